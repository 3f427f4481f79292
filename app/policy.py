"""Who may do what: the one place that decides (docs/accounts.md, "Roles").

Every service method that reads or changes a workspace's objects calls `scope.require(permission,
workspace_id, owner_id=...)` before it touches anything. Nothing else in the code compares roles.

- An actor is who asks: a signed-in person, an API token (a person, narrowed by the token's scopes), the
  system (CLI on the server, scheduler: acts as owner everywhere), or a share-link visitor (handled by
  app/share_links.py: it never gets a Scope).
- A workspace the actor is not a member of does not exist for them: `NotFound`, never `Forbidden`, so that
  ids of other people's objects reveal nothing. A member whose role (or token) does not allow the action gets
  `Forbidden` with a sentence naming the role that would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from .errors import Forbidden, NotFound


class Role(StrEnum):
    owner = "owner"  # everything, including members, audit log and deleting the workspace
    editor = "editor"  # build and run: graphs, runs, schedules, webhooks, secrets, share links
    runner = "runner"  # run existing graphs; sees only their own runs
    viewer = "viewer"  # read only


O, E, R, V = Role.owner, Role.editor, Role.runner, Role.viewer

#: permission -> roles that have it. "own" rows below narrow some of them to the actor's own objects.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "graph.read": frozenset({O, E, R, V}),
    "graph.write": frozenset({O, E}),
    "run.start": frozenset({O, E, R}),
    "run.read": frozenset({O, E, R, V}),
    "run.manage": frozenset({O, E, R}),  # cancel, rerun, resume
    "artifact.upload": frozenset({O, E, R}),
    "artifact.read": frozenset({O, E, R, V}),  # a stored file of the workspace, by its hash
    "schedule.read": frozenset({O, E, V}),
    "schedule.write": frozenset({O, E}),
    "webhook.read": frozenset({O, E, V}),
    "webhook.write": frozenset({O, E}),
    "secret.read": frozenset({O, E}),  # names and descriptions; values never leave the vault
    "secret.write": frozenset({O, E}),
    "share.read": frozenset({O, E}),
    "share.write": frozenset({O, E}),
    "listing.publish": frozenset({O, E}),
    "listing.install": frozenset({O, E}),
    "listing.review": frozenset({O, E, R, V}),  # rate, review, report a listing one can see
    "workspace.read": frozenset({O, E, R, V}),
    "members.manage": frozenset({O}),
    "audit.read": frozenset({O}),
    "workspace.manage": frozenset({O}),  # rename, delete, plan
    "usage.read": frozenset({O}),  # the plan's limits and what the workspace uses of them
    "workspace.create": frozenset({O, E, R, V}),  # make a team workspace, join one (tokens: "write")
    "token.read": frozenset({O, E, R, V}),  # the person's own API tokens, whatever their role
    "token.write": frozenset({O, E, R, V}),
    "analytics.read": frozenset({O, E, R, V}),  # usage figures; a runner's cover their own runs only
}

#: (role, permission) pairs that apply only to objects the actor owns (a runner's own runs)
OWN_ONLY: frozenset[tuple[Role, str]] = frozenset({(R, "run.read"), (R, "run.manage")})

#: API token scope each permission needs: a "read" token reads, "run" also starts runs, "write" changes things
TOKEN_SCOPE: dict[str, str] = {p: ("read" if p.endswith(".read") else "run" if p in ("run.start", "run.manage",
                                                                                    "artifact.upload")
                                   else "write") for p in PERMISSIONS}
SCOPES = ("read", "run", "write")
_SCOPE_IMPLIES = {"read": {"read"}, "run": {"read", "run"}, "write": {"read", "run", "write"}}

_ROLE_FOR_WORDS = {"graph.write": "editor", "schedule.write": "editor", "webhook.write": "editor",
                   "secret.read": "editor", "secret.write": "editor", "share.read": "editor",
                   "share.write": "editor", "listing.publish": "editor", "listing.install": "editor",
                   "run.start": "runner", "run.manage": "runner", "artifact.upload": "runner"}


@dataclass(frozen=True)
class Actor:
    """Who is asking. `kind`: "user" (session), "token" (API token or JWT), "system" (CLI, scheduler)."""

    user_id: str
    kind: str = "user"
    label: str = ""  # for the audit log: the email, "token 'ci'", "system"
    is_admin: bool = False
    #: for tokens: the scopes granted ("read", "run", "write"); None: not narrowed
    scopes: frozenset[str] | None = None
    token_id: str | None = None
    ip: str | None = None

    @classmethod
    def system(cls, user_id: str) -> Actor:
        return cls(user_id=user_id, kind="system", label="system", is_admin=True)


@dataclass(frozen=True)
class Scope:
    """An actor, their role in each workspace they belong to, and the workspace they are working in
    (where lists are taken from and new objects are created)."""

    actor: Actor
    workspace_id: str
    roles: dict[str, Role] = field(default_factory=dict)

    @property
    def user_id(self) -> str:
        return self.actor.user_id

    def role(self, workspace_id: str | None = None) -> Role | None:
        if self.actor.kind == "system":
            return Role.owner
        return self.roles.get(workspace_id or self.workspace_id)

    def can(self, permission: str, workspace_id: str | None = None, *, owner_id: str | None = None) -> bool:
        try:
            self.require(permission, workspace_id, owner_id=owner_id)
        except (NotFound, Forbidden):
            return False
        return True

    def require(self, permission: str, workspace_id: str | None = None, *, owner_id: str | None = None,
                what: str = "object") -> Role:
        """The actor's role in `workspace_id` (default: the current workspace) when it allows `permission`
        (on an object of `owner_id`, for own-only rules). Otherwise NotFound (not a member, or an own-only
        object of someone else) or Forbidden (a member whose role or token does not allow it)."""
        if permission not in PERMISSIONS:
            raise KeyError(f"unknown permission {permission!r}: add it to app/policy.py PERMISSIONS")
        role = self.role(workspace_id)
        if role is None:
            raise NotFound(f"There is no such {what}.")
        if role not in PERMISSIONS[permission]:
            needed = _ROLE_FOR_WORDS.get(permission, "owner")
            raise Forbidden(f"Your role in this workspace is '{role.value}'; this needs the '{needed}' role or "
                            "higher. Ask an owner of the workspace to change your role.",
                            details={"permission": permission, "role": role.value})
        if (role, permission) in OWN_ONLY and owner_id is not None and owner_id != self.actor.user_id:
            raise NotFound(f"There is no such {what}.")
        if self.actor.scopes is not None and TOKEN_SCOPE[permission] not in _granted(self.actor.scopes):
            raise Forbidden(f"This API token may only {'/'.join(sorted(self.actor.scopes))}; this needs the "
                            f"'{TOKEN_SCOPE[permission]}' scope. Create a token with that scope.",
                            details={"permission": permission, "scope": TOKEN_SCOPE[permission]})
        return role

    def sees_all_runs(self, workspace_id: str | None = None) -> bool:
        """False for a runner, who lists only their own runs."""
        return (self.role(workspace_id), "run.read") not in OWN_ONLY

    def in_workspace(self, workspace_id: str) -> Scope:
        """The same actor working in another workspace (NotFound unless a member)."""
        self.require("workspace.read", workspace_id, what="workspace")
        return Scope(self.actor, workspace_id, self.roles)


def _granted(scopes: frozenset[str]) -> set[str]:
    return set().union(*(_SCOPE_IMPLIES.get(s, set()) for s in scopes)) if scopes else set()
