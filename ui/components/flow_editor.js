// The MindDocs canvas: @vue-flow/core (MIT, loaded from node_modules through NiceGUI's importmap).
// Python owns the graph: this component draws the `nodes` and `edges` props and reports what the person
// does (connect, move, select, drop, keys); Python answers with new props.
import { VueFlow, Handle, Position } from "vue-flow-core";
import { MiniMap } from "vue-flow-minimap";
import { Background } from "vue-flow-background";
import { markRaw, toRaw } from "vue";

// The ESM build reads process.env.NODE_ENV, which a bundler would have replaced; there is no bundler here.
globalThis.process = globalThis.process || { env: { NODE_ENV: "production" } };

// A node's size until Vue Flow has measured it. Vue Flow counts an unmeasured (0 x 0) node as visible, so with
// only-render-visible-elements it would still mount every node once; with an estimate only the nodes in view
// mount. Fractional, so it never equals a measured (whole-pixel) size: Vue Flow then always measures the node
// and its handles when it mounts.
const ESTIMATED = { width: 240.5, height: 120.5 };

const MindNode = {
  components: { Handle },
  props: ["id", "data", "selected"],
  inject: ["mdRun"],
  setup() {
    return { Position };
  },
  computed: {
    // This node's state in the run the canvas follows (pushed by Python into `run`), else the one in its data.
    run() {
      const pushed = this.mdRun && this.mdRun.states && this.mdRun.states[this.id];
      return pushed || { state: this.data.state, label: this.data.state_label };
    },
  },
  template: `
    <div class="md-node" :data-node-id="id" :class="['md-state-' + (run.state || 'none'),
         {'md-selected': selected, 'md-has-issues': data.issues && data.issues.length}]">
      <div class="md-node-title" :title="data.description">
        <span class="md-node-label">{{ data.label }}</span>
        <span class="md-node-type">{{ data.type_id }}</span>
      </div>
      <div class="md-node-ports">
        <div class="md-ports-in">
          <div v-for="p in data.inputs" :key="'i-' + p.name" class="md-port md-port-in"
               :style="{'--md-port': p.colour}"
               :title="p.name + ': ' + p.type_label + (p.description ? ' — ' + p.description : '')">
            <Handle type="target" :id="p.name" :position="Position.Left" class="md-handle"
                    :class="{'md-port-issue': data.issue_ports && data.issue_ports.includes(p.name)}"
                    :data-port="p.name" :data-port-type="p.type_label" />
            {{ p.name }}<span class="md-port-type">{{ p.type_label }}</span>
          </div>
        </div>
        <div class="md-ports-out">
          <div v-for="p in data.outputs" :key="'o-' + p.name" class="md-port md-port-out"
               :style="{'--md-port': p.colour}"
               :title="p.name + ': ' + p.type_label + (p.description ? ' — ' + p.description : '')">
            <span class="md-port-type">{{ p.type_label }}</span>{{ p.name }}
            <Handle type="source" :id="p.name" :position="Position.Right" class="md-handle"
                    :data-port="p.name" :data-port-type="p.type_label" />
          </div>
        </div>
      </div>
      <div v-if="data.issues && data.issues.length" class="md-issues">
        <div v-for="(issue, i) in data.issues" :key="i">⚠ {{ issue }}</div>
      </div>
      <div v-if="run.state" class="md-state" :data-state="run.state" :title="run.error || run.label">
        <span class="md-state-label">{{ run.label }}</span>
        <span v-if="run.reused" class="md-reused" :data-reused="run.reused" :title="run.reused_title">
          {{ run.reused_label }}</span>
      </div>
      <div v-if="run.error" class="md-run-error" :title="run.error">{{ run.error }}</div>
    </div>`,
};

export default {
  components: { VueFlow, MiniMap, Background },
  props: {
    nodes: Array,
    edges: Array,
    compat: Object,
    snap: Boolean,
    minimap: Boolean,
    run: Object,
  },
  provide() {
    return { mdRun: this.runBox };
  },
  watch: {
    run: { handler(states) { this.runBox.states = states || {}; }, immediate: true },
  },
  computed: {
    flowNodes() {
      // Nodes new to the canvas get the estimated size; the others keep the size Vue Flow holds for them
      // (passing no `dimensions` leaves it alone). `seen` is deliberately not reactive. The props' plain objects
      // (toRaw) are handed over: Vue Flow copies them into its own store, and reading them through Vue's
      // reactive proxies made that copy slower. Python replaces the whole array on every change.
      const seen = this.seen || (this.seen = new Set());
      return (toRaw(this.nodes) || []).map((n) => {
        if (seen.has(n.id)) return n;
        seen.add(n.id);
        return { ...n, dimensions: { ...ESTIMATED } };
      });
    },
    flowEdges() {
      // A wire into a running node moves (the node states come from the run the canvas follows). The same
      // array is returned until the running nodes change, so elapsed-time updates do not redraw the wires.
      const states = this.runBox.states || {};
      const edges = toRaw(this.edges) || [];  // plain objects, as for flowNodes
      const running = Object.keys(states).filter((id) => states[id].state === "running").sort().join("\n");
      const cache = this.edgeCache;
      if (cache && cache.edges === edges && cache.running === running) return cache.result;
      const result = !running ? edges : edges.map((e) => {
        const moving = (states[e.target] || {}).state === "running";
        return moving === !!e.animated ? e : { ...e, animated: moving };
      });
      this.edgeCache = { edges, running, result };  // deliberately not reactive, like `seen`
      return result;
    },
  },
  data() {
    return { nodeTypes: { minddocs: markRaw(MindNode) }, selectedNodes: [], selectedEdges: [], runBox: { states: {} },
             minimapShown: false };
  },
  mounted() {
    this.keyHandler = (event) => this.onKey(event);
    document.addEventListener("keydown", this.keyHandler);
  },
  unmounted() {
    document.removeEventListener("keydown", this.keyHandler);
  },
  methods: {
    onReady(instance) {
      this.flow = instance;
      setTimeout(() => this.openView(), 50);
      // The minimap draws every node of the graph, not only those in view: it mounts once the canvas is drawn
      // and the browser is idle, so that it does not delay the first view (about 0.4 s at 300 nodes).
      const showMinimap = () => { this.minimapShown = true; };
      setTimeout(() => (window.requestIdleCallback ? requestIdleCallback(showMinimap, { timeout: 1000 })
                                                   : showMinimap()), 100);
      this.$emit("ready");
    },
    openView() {
      // Only the nodes in view are mounted (only-render-visible-elements), so a large graph opens at a readable
      // zoom on its first nodes instead of fitting everything at a zoom where nothing can be read (the
      // minimap still shows the whole graph). Node sizes are estimated: the nodes in view are not measured yet.
      const flow = this.flow;
      const nodes = this.nodes || [];
      if (!flow || !nodes.length) return;
      const NODE_W = ESTIMATED.width, NODE_H = ESTIMATED.height, PAD = 0.2, MIN_FIT_ZOOM = 0.5;
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const n of nodes) {
        const p = n.position || { x: 0, y: 0 };
        x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y);
        x1 = Math.max(x1, p.x + NODE_W); y1 = Math.max(y1, p.y + NODE_H);
      }
      const width = this.$el.clientWidth || 1, height = this.$el.clientHeight || 1;
      const zoom = Math.min(width / ((x1 - x0) * (1 + PAD)), height / ((y1 - y0) * (1 + PAD)));
      if (zoom >= MIN_FIT_ZOOM) flow.fitView({ padding: PAD });
      else flow.setViewport({ x: 40 - x0, y: 40 - y0, zoom: 1 });
    },
    fit_view() {
      if (this.flow) this.flow.fitView({ padding: 0.2 });
    },
    set_run(states) {
      // Python pushes the followed run's node states over the websocket (FlowEditor.set_run), without
      // resending the graph.
      this.runBox.states = states || {};
    },
    portType(node, role, name) {
      const ports = (node && node.data && node.data[role]) || [];
      const port = ports.find((p) => p.name === name);
      return port ? port.type_label : null;
    },
    isValid(connection, { sourceNode, targetNode }) {
      if (connection.id) return true; // an edge Python already holds: draw it even when it has a problem
      if (connection.source === connection.target) return false;
      const source = this.portType(sourceNode, "outputs", connection.sourceHandle);
      const target = this.portType(targetNode, "inputs", connection.targetHandle);
      return !!(source && target && this.compat && this.compat[target] && this.compat[target][source]);
    },
    onConnect(connection) {
      // Compatible or not, Python decides (and explains a refusal).
      this.$emit("connect", {
        source: connection.source, source_port: connection.sourceHandle,
        target: connection.target, target_port: connection.targetHandle,
      });
    },
    onConnectEnd(event) {
      // A drop on an incompatible input never reaches onConnect; tell Python which one was tried.
      const el = event && event.target && event.target.closest && event.target.closest(".md-handle");
      if (!el || !this.connecting) return;
      const nodeEl = el.closest("[data-node-id]");
      const target = nodeEl && nodeEl.getAttribute("data-node-id");
      const port = el.getAttribute("data-port");
      const from = this.connecting;
      this.connecting = null;
      if (!target || !port || !el.classList.contains("target")) return;
      if (from.handleType !== "source") return;
      const sourceNode = this.flow.findNode(from.nodeId);
      const targetNode = this.flow.findNode(target);
      const ok = this.isValid({ source: from.nodeId, sourceHandle: from.handleId, target, targetHandle: port },
                              { sourceNode, targetNode });
      if (!ok) {
        this.$emit("connect", { source: from.nodeId, source_port: from.handleId, target, target_port: port });
      }
    },
    onConnectStart(params) {
      this.connecting = params;
    },
    onDragStop(event) {
      const moved = (event.nodes && event.nodes.length ? event.nodes : [event.node]).map((n) => ({
        id: n.id, x: Math.round(n.position.x), y: Math.round(n.position.y),
      }));
      this.$emit("moved", moved);
    },
    onNodesChange(changes) {
      if (!changes.some((c) => c.type === "select")) return;
      this.$nextTick(() => this.emitSelection());
    },
    onEdgesChange(changes) {
      if (!changes.some((c) => c.type === "select")) return;
      this.$nextTick(() => this.emitSelection());
    },
    readSelection() {
      if (!this.flow) return { nodes: [], edges: [] };
      const unref = (v) => (Array.isArray(v) ? v : (v && v.value) || []);
      return {
        nodes: unref(this.flow.getSelectedNodes).map((n) => n.id).sort(),
        edges: unref(this.flow.getSelectedEdges).map((e) => e.id).sort(),
      };
    },
    emitSelection() {
      if (!this.flow) return;
      const { nodes, edges } = this.readSelection();
      if (nodes.join() === this.selectedNodes.join() && edges.join() === this.selectedEdges.join()) return;
      this.selectedNodes = nodes;
      this.selectedEdges = edges;
      this.$emit("selection", { nodes, edges });
    },
    onDragOver(event) {
      if (event.dataTransfer.types.includes("application/x-minddocs-node")) {
        event.preventDefault();
        event.dataTransfer.dropEffect = "copy";
      }
    },
    onDrop(event) {
      const typeId = event.dataTransfer.getData("application/x-minddocs-node");
      if (!typeId || !this.flow) return;
      event.preventDefault();
      const at = this.flow.screenToFlowCoordinate({ x: event.clientX, y: event.clientY });
      this.$emit("drop", { type_id: typeId, x: Math.round(at.x), y: Math.round(at.y) });
    },
    blurInputs() {
      // Clicking the canvas leaves a form field: keys (Delete, Ctrl+Z) then act on the graph.
      const active = document.activeElement;
      if (active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA")) active.blur();
    },
    onKey(event) {
      const t = event.target;
      if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
      const mod = event.ctrlKey || event.metaKey;
      let key = null;
      if (event.key === "Delete" || event.key === "Backspace") key = "delete";
      else if (mod && !event.shiftKey && event.key.toLowerCase() === "z") key = "undo";
      else if (mod && (event.key.toLowerCase() === "y" || (event.shiftKey && event.key.toLowerCase() === "z"))) key = "redo";
      else if (mod && event.key.toLowerCase() === "c") key = "copy";
      else if (mod && event.key.toLowerCase() === "v") key = "paste";
      else if (mod && event.key.toLowerCase() === "d") key = "duplicate";
      else if (mod && event.key.toLowerCase() === "s") key = "save";
      if (!key) return;
      event.preventDefault();
      const { nodes, edges } = this.readSelection();  // read now: Python may have changed the selection
      this.$emit("key", { key, nodes, edges });
    },
  },
  template: `
    <div class="md-flow" @drop="onDrop" @dragover="onDragOver">
      <VueFlow :only-render-visible-elements="true" :nodes="flowNodes" :edges="flowEdges" :node-types="nodeTypes"
               :snap-to-grid="snap" :snap-grid="[16, 16]"
               :delete-key-code="null" :is-valid-connection="isValid" :min-zoom="0.1" :max-zoom="2"
               :connection-radius="24" :default-edge-options="{type: 'default'}"
               @pane-ready="onReady" @connect="onConnect" @connect-start="onConnectStart"
               @connect-end="onConnectEnd" @node-drag-stop="onDragStop"
               @nodes-change="onNodesChange" @edges-change="onEdgesChange"
               @node-click="blurInputs" @pane-click="blurInputs" @edge-click="blurInputs">
        <Background :gap="16" />
        <MiniMap v-if="minimap && minimapShown" pannable zoomable />
      </VueFlow>
    </div>`,
};
