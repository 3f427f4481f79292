"""Share links: run-only access to one graph version for people without an account (docs/share-links.md).

Editors create, list and revoke links through their Scope (`share.read` / `share.write`). The public side
never gets a Scope: it holds a token, and this service decides everything it may do —

- the token is looked up by its sha256; an unknown or altered token is NotFound, a revoked, expired or used-up
  link is ShareLinkGone (410);
- a run counts against `max_runs` with one conditional UPDATE, so concurrent visitors cannot exceed it;
- each submission gets its own secret (only its sha256 is stored on the run): status and outputs answer only
  to the holder of that secret, and only for that run;
- runs belong to the link's creator and workspace, and start with the creator's own scope, so a creator who
  is no longer an editor there cannot lend access they lost.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from graph_runtime.formats import load_graph
from graph_runtime.plan import Plan
from nodes.ports import FileRef
from storage.graphs import GraphRepository
from storage.models import new_id
from storage.runs import RunRepository, RunView
from storage.secrets import SecretBox, SecretUnreadable
from storage.share_links import ShareLinkRepository, ShareLinkRow

from .errors import (
    AppError,
    Forbidden,
    InvalidGraph,
    InvalidInputs,
    InvalidRequest,
    NotFound,
    NotSignedIn,
    TooManyRequests,
)
from .passwords import hash_password, verify_password
from .policy import Actor, Scope
from .share_limits import RateLimiter
from .share_models import (
    PublicForm,
    ShareLinkView,
    SubmissionStatus,
    Submitted,
    Upload,
    described,
    normalise_origin,
)

#: sniffed file kinds (nodes/files.py `sniff`) a form accepts for each kind of graph input; None: any file
ACCEPTED_KINDS: dict[str, frozenset[str] | None] = {
    "document": frozenset({"pdf", "docx", "odt", "epub", "html", "text"}),
    "image": frozenset({"png", "jpeg", "tiff", "gif", "webp", "bmp"}),
    "audio": frozenset({"wav", "aiff", "flac", "ogg", "mp3", "m4a", "mp4"}),
    "file": None,
}
FILE_KINDS = frozenset(ACCEPTED_KINDS)
LINK_RATE_FACTOR = 10  # a link takes this many times an address's rate: its visitors come from many addresses
PASSWORD_WINDOW_S = 15 * 60
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)


class ShareLinkGone(AppError):
    """The link existed but no longer works: revoked, expired, its runs used up, or its creator lost access."""

    status = 410
    code = "share_link_gone"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ShareLinkService:
    def __init__(self, services: Any):
        self.services = services
        self.settings = services.settings
        self.repo = ShareLinkRepository(services.db)
        self.graph_repo: GraphRepository = services.graph_repo
        self.run_repo: RunRepository = services.run_repo
        self.box: SecretBox = services.secret_box  # the vault's key seals the tokens, so editors can copy links again
        self.limiter = RateLimiter(services.settings.redis_url, services.settings.broker.namespace)

    @property
    def base_url(self) -> str:
        return self.settings.notifications.public_url.rstrip("/")

    # --- editors -----------------------------------------------------------------------------------------------
    def create(self, scope: Scope, graph_id: str, *, name: str = "", version_id: str | None = None,
               expires_at: datetime | None = None, max_runs: int | None = None, password: str | None = None,
               show_outputs: bool = True, allowed_origins: Iterable[str] = ()) -> ShareLinkView:
        """A new link to `version_id` (default: the graph's latest version)."""
        svc = self.services.scoped(scope)
        graph = svc.graphs.get(graph_id)
        scope.require("share.write", graph.workspace_id, what="graph")
        version = svc.graphs.version(version_id) if version_id else svc.graphs.latest(graph_id)
        if version.graph_id != graph_id:
            raise NotFound(f"Version {version_id} does not belong to graph {graph_id}.")
        if issues := svc.graphs.validate(version.spec):
            raise InvalidGraph("The graph has problems; fix them before sharing it, so that visitors can run it.",
                               details=issues)
        name = (name or graph.name).strip()
        if len(name) > 200:
            raise InvalidRequest("The link's name is longer than 200 characters; shorten it.",
                                 details={"field": "name"})
        if expires_at is not None:
            expires_at = expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)
            if expires_at <= datetime.now(UTC):
                raise InvalidRequest("The expiry date is in the past; choose a later one or none.",
                                     details={"field": "expires_at"})
        if max_runs is not None and not 1 <= max_runs <= 1_000_000:
            raise InvalidRequest("The maximum number of runs must be from 1 to 1,000,000, or none.",
                                 details={"field": "max_runs"})
        password_hash = None
        if password:
            if not 6 <= len(password) <= 200:
                raise InvalidRequest("The link's password must have 6 to 200 characters.",
                                     details={"field": "password"})
            password_hash = hash_password(password)
        origins = list(dict.fromkeys(normalise_origin(o) for o in allowed_origins))
        if len(origins) > 20:
            raise InvalidRequest("A link may be embedded on 20 sites at most.", details={"field": "allowed_origins"})
        token, link_id = secrets.token_urlsafe(32), new_id()
        row = self.repo.create(link_id=link_id, workspace_id=graph.workspace_id, graph_version_id=version.id,
                               created_by=scope.user_id, name=name, token_hash=sha256(token),
                               token_sealed=self.box.encrypt(_aad(link_id), token), expires_at=expires_at,
                               max_runs=max_runs, password_hash=password_hash, show_outputs=show_outputs,
                               allowed_origins=origins)
        self.services.audit.record(scope.actor, "share_link.created", workspace_id=row.workspace_id,
                                   target_type="share_link", target_id=row.id,
                                   details={"graph_id": graph_id, "version_id": version.id, "name": name,
                                            "password": bool(password_hash), "max_runs": max_runs,
                                            "expires_at": expires_at.isoformat() if expires_at else None,
                                            "show_outputs": show_outputs, "allowed_origins": origins})
        return ShareLinkView(row, token, self.base_url)

    def list(self, scope: Scope, graph_id: str) -> list[ShareLinkView]:
        """The links of every version of a graph, newest first, with their addresses."""
        svc = self.services.scoped(scope)
        graph = svc.graphs.get(graph_id)
        scope.require("share.read", graph.workspace_id, what="graph")
        versions = [v.id for v in self.graph_repo.versions(graph_id)]
        return [ShareLinkView(row, self._unseal(row), self.base_url)
                for row in self.repo.list(graph.workspace_id, versions)]

    def get(self, scope: Scope, link_id: str) -> ShareLinkView:
        row = self.repo.get(link_id)
        if row is None or scope.role(row.workspace_id) is None:
            raise NotFound(f"There is no share link with id {link_id[:40]}.")
        scope.require("share.read", row.workspace_id, what="share link")
        return ShareLinkView(row, self._unseal(row), self.base_url)

    def revoke(self, scope: Scope, link_id: str) -> ShareLinkView:
        """Stop the link at once: its page, form, runs and results answer 410 from now on."""
        view = self.get(scope, link_id)
        scope.require("share.write", view.link.workspace_id, what="share link")
        if self.repo.revoke(link_id):
            self.services.audit.record(scope.actor, "share_link.revoked", workspace_id=view.link.workspace_id,
                                       target_type="share_link", target_id=link_id, details={"name": view.link.name})
        return self.get(scope, link_id)

    def _unseal(self, row: ShareLinkRow) -> str | None:
        try:
            return self.box.decrypt(_aad(row.id), row.token_sealed)
        except SecretUnreadable:
            return None

    # --- the public side ---------------------------------------------------------------------------------------
    def link(self, token: str, *, for_results: bool = False) -> ShareLinkRow:
        """The link of a token when it works. `for_results`: a submitter following a run already started may
        do so after the link expired or its runs were used up (not after it was revoked)."""
        row = self.repo.by_token_hash(sha256(token)) if _TOKEN.match(token or "") else None
        if row is None:
            raise NotFound("This share link does not exist. Check that the address was copied completely, or ask "
                           "whoever gave it to you for a new one.", code="share_link_not_found")
        _refuse_unless_usable(row, for_results=for_results)
        return row

    def form(self, token: str, *, password: str | None = None, ip: str = "") -> PublicForm:
        """What the public page shows: the title and the inputs (once the password, if any, is given)."""
        row = self.link(token)
        self._runner(row)  # a link whose creator can no longer share is gone before anyone fills it in
        needs_password = row.password_hash is not None
        if needs_password and password is not None:
            self.check_password(row, password, ip=ip)
            needs_password = False
        return PublicForm(row, row.name, self.inputs(row), needs_password, self.settings.storage.max_upload_mb)

    def inputs(self, row: ShareLinkRow) -> list[dict[str, Any]]:
        """The graph version's inputs as the form shows them, with the file kinds each file input accepts."""
        version = self.graph_repo.version(row.graph_version_id)
        if version is None:
            raise ShareLinkGone(_GONE["revoked"], code="share_link_revoked")
        fields = []
        for decl in Plan(load_graph(version.spec)).inputs:
            data = decl.to_json()
            data.pop("node_id", None)
            accepted = ACCEPTED_KINDS.get(data["kind"])
            data["accept"] = sorted(accepted) if accepted else None
            fields.append(data)
        return fields

    def output_labels(self, row: ShareLinkRow) -> dict[str, str]:
        """Output name -> the title its io.output node gives it (empty when none)."""
        version = self.graph_repo.version(row.graph_version_id)
        nodes = version.spec.get("nodes", []) if version else []
        return {n["config"]["name"]: n["config"].get("label") or "" for n in nodes
                if n.get("type") == "io.output" and isinstance(n.get("config"), dict) and n["config"].get("name")}

    def check_password(self, row: ShareLinkRow, password: str | None, *, ip: str = "") -> None:
        """Nothing when the link has no password or `password` is right; NotSignedIn when it is missing or
        wrong; TooManyRequests after too many wrong ones from one address (or for one link)."""
        if row.password_hash is None:
            return
        if not password:
            raise NotSignedIn("This link is protected by a password; enter it to continue.",
                              code="share_password_required")
        limit = self.settings.auth.max_failures_per_ip
        for key, most in ((f"share-pw:ip:{ip}", limit), (f"share-pw:link:{row.id}", limit * LINK_RATE_FACTOR)):
            if (left := self.limiter.blocked(key, most, PASSWORD_WINDOW_S)) is not None:
                raise _too_many(left, "Too many wrong passwords were tried")
        if not verify_password(row.password_hash, password):
            self.limiter.hit(f"share-pw:ip:{ip}", limit, PASSWORD_WINDOW_S)
            self.limiter.hit(f"share-pw:link:{row.id}", limit * LINK_RATE_FACTOR, PASSWORD_WINDOW_S)
            raise NotSignedIn("The password is not right; try again.", code="share_password_wrong")

    def embed_origins(self, token: str) -> list[str]:
        """The sites that may show /embed/{token} in an <iframe>; none for a link that does not work."""
        try:
            return self.link(token).allowed_origins
        except (NotFound, ShareLinkGone):
            return []

    def submit(self, token: str, *, values: dict[str, Any] | None = None, text_fields: dict[str, str] | None = None,
               uploads: Iterable[Upload] = (), password: str | None = None, ip: str = "") -> Submitted:
        """`admit`, then `start`: what the public page does when a visitor sends the form."""
        row = self.admit(token, password=password, ip=ip)
        return self.start(row, values=values, text_fields=text_fields, uploads=uploads, ip=ip)

    def admit(self, token: str, *, password: str | None = None, ip: str = "") -> ShareLinkRow:
        """The link, when a submission may go ahead: it works, the address and the link are under their rate
        limits (TooManyRequests) and the password, if any, is right. Before any upload is read."""
        row = self.link(token)
        rate = self.settings.auth.share_rate_per_minute
        for key, most in ((f"share:ip:{ip}", rate), (f"share:link:{row.id}", rate * LINK_RATE_FACTOR)):
            if (left := self.limiter.hit(key, most)) is not None:
                raise _too_many(left, "Too many forms were sent")
        self.check_password(row, password, ip=ip)
        return row

    def start(self, row: ShareLinkRow, *, values: dict[str, Any] | None = None,
              text_fields: dict[str, str] | None = None, uploads: Iterable[Upload] = (), ip: str = "") -> Submitted:
        """Start a run of an admitted link's graph version. `values`: JSON values; `text_fields`: form text (JSON
        inputs parsed, numbers read from text); files only as `uploads`, never as references to stored files."""
        inputs = {d["name"]: d for d in self.inputs(row)}
        values, text_fields, uploads = dict(values or {}), dict(text_fields or {}), list(uploads)
        for name in [*values, *text_fields, *(u.input for u in uploads)]:
            if name not in inputs:
                known = ", ".join(f"'{n}'" for n in inputs) or "none"
                raise InvalidInputs(f"This form has no input '{name[:100]}'; its inputs are: {known}.",
                                    details={name[:100]: "is not an input of this form"})
        for name in [*values, *text_fields]:
            if inputs[name]["kind"] in FILE_KINDS:
                raise InvalidInputs(f"Input '{name}' is a file: send it as a file (a file part of a multipart "
                                    "form), not as a value.", details={name: "must be an uploaded file"})
        for upload in uploads:
            if inputs[upload.input]["kind"] not in FILE_KINDS:
                raise InvalidInputs(f"Input '{upload.input}' takes a {inputs[upload.input]['kind']} value, not a "
                                    "file.", details={upload.input: "must be a value, not a file"})
        runner = self._runner(row)
        if not self.repo.claim_run(row.id):
            _refuse_unless_usable(self.repo.get(row.id) or row)  # says why: revoked or expired meanwhile
            raise ShareLinkGone(_GONE["used_up"], code="share_link_used_up")
        secret = secrets.token_urlsafe(32)
        try:
            given = {**values, **runner.runs.text_inputs(row.graph_version_id, text_fields)}
            for upload in uploads:
                accepted = ACCEPTED_KINDS.get(inputs[upload.input]["kind"])
                ref = runner.runs.upload(upload.stream, name=(upload.filename or upload.input)[:200],
                                         media_type=upload.media_type, kinds=accepted)
                given[upload.input] = ref.model_dump()
            run_id = runner.runs.start(row.graph_version_id, given, share_link_id=row.id,
                                       submission_hash=sha256(secret))
        except BaseException:
            self.repo.release_run(row.id)
            raise
        self.services.audit.record(None, "share_link.run", workspace_id=row.workspace_id, target_type="share_link",
                                   target_id=row.id, details={"run_id": run_id}, label=f"share link '{row.name}'",
                                   ip=ip)
        return Submitted(run_id, secret)

    def status(self, token: str, run_id: str, secret: str) -> SubmissionStatus:
        """The submitter's own run: state, progress and (when the link shows them) outputs."""
        row = self.link(token, for_results=True)
        run = self._submission(row, run_id, secret)
        nodes = [n for n in run.nodes if n.item is None]
        status = SubmissionStatus(run.id, run.state, run.finished, sum(n.state in ("succeeded", "skipped")
                                                                       for n in nodes), len(nodes),
                                  run.created_at, run.finished_at, row.show_outputs)
        if run.state == "failed":
            status.error = run.error_message if row.show_outputs else None
        if run.state == "succeeded" and row.show_outputs:
            labels = self.output_labels(row)
            status.outputs = [described(name, value, labels.get(name, "")) for name, value in
                              sorted((run.outputs or {}).items())]
        return status

    def output(self, token: str, run_id: str, secret: str, name: str) -> Any:
        """One output value of the submitter's finished run (a file output is a FileRef)."""
        row = self.link(token, for_results=True)
        run = self._submission(row, run_id, secret)
        if not row.show_outputs:
            raise Forbidden("This link sends its results to its owner only; they cannot be downloaded here.",
                            code="outputs_withheld")
        if run.state != "succeeded" or name not in (run.outputs or {}):
            raise NotFound(f"This submission has no output '{name[:100]}' (yet).", details={"state": run.state})
        return run.outputs[name]  # type: ignore[index]

    def file_path(self, ref: dict[str, Any]) -> tuple[FileRef, Any]:
        file = FileRef.model_validate(ref)
        return file, self.services.artifacts.path(file)

    def _submission(self, row: ShareLinkRow, run_id: str, secret: str) -> RunView:
        found = self.repo.submission(run_id) if run_id and secret else None
        if (found is None or found.share_link_id != row.id or not found.submission_hash
                or not hmac.compare_digest(found.submission_hash, sha256(secret))):
            raise NotFound("There is no such submission for this link; open the address the form gave you when "
                           "you sent it.", code="submission_not_found")
        run = self.run_repo.get(run_id)
        if run is None:
            raise NotFound("There is no such submission for this link.", code="submission_not_found")
        return run

    def _runner(self, row: ShareLinkRow) -> Any:
        """The link creator's services in the link's workspace, while they may still share there."""
        user = self.services.accounts_repo.user(row.created_by)
        try:
            if user is None or not user.is_active:
                raise NotFound("gone")
            scope = self.services.scope_for(Actor(user.id, kind="user", label=f"share link '{row.name}'"),
                                            row.workspace_id)
            scope.require("share.write", row.workspace_id)
        except (NotFound, Forbidden):
            raise ShareLinkGone(_GONE["creator"], code="share_link_revoked") from None
        return self.services.scoped(scope)


_GONE = {
    "revoked": "This share link was turned off by its owner; ask them for a new one.",
    "expired": "This share link has expired; ask its owner for a new one.",
    "used_up": "This share link has been used as many times as its owner allowed; ask them for a new one.",
    "creator": "This share link no longer works: whoever created it can no longer share this graph. Ask the "
               "workspace's owners for a new one.",
}


def _refuse_unless_usable(row: ShareLinkRow, *, for_results: bool = False) -> None:
    state = row.state()
    if state == "revoked" or (state != "active" and not for_results):
        raise ShareLinkGone(_GONE[state], code=f"share_link_{state}", details={"state": state})


def _aad(link_id: str) -> str:
    return f"share-link:{link_id}"


def _too_many(left: float, what: str) -> TooManyRequests:
    wait = max(1, int(left + 0.999))
    return TooManyRequests(f"{what} from here; wait {wait} seconds and try again.", details={"retry_after_s": wait})
