// The MindDocs canvas: @vue-flow/core (MIT, loaded from node_modules through NiceGUI's importmap).
// Python owns the graph: this component draws the `nodes` and `edges` props and reports what the person
// does (connect, move, select, drop, keys); Python answers with new props.
import { VueFlow, Handle, Position } from "vue-flow-core";
import { MiniMap } from "vue-flow-minimap";
import { Background } from "vue-flow-background";
import { markRaw } from "vue";

// The ESM build reads process.env.NODE_ENV, which a bundler would have replaced; there is no bundler here.
globalThis.process = globalThis.process || { env: { NODE_ENV: "production" } };

const MindNode = {
  components: { Handle },
  props: ["id", "data", "selected"],
  setup() {
    return { Position };
  },
  template: `
    <div class="md-node" :data-node-id="id" :class="['md-state-' + (data.state || 'none'),
         {'md-selected': selected, 'md-has-issues': data.issues && data.issues.length}]">
      <div class="md-node-title" :title="data.description">
        <span class="md-node-label">{{ data.label }}</span>
        <span class="md-node-type">{{ data.type_id }}</span>
      </div>
      <div class="md-node-ports">
        <div class="md-ports-in">
          <div v-for="p in data.inputs" :key="'i-' + p.name" class="md-port md-port-in"
               :title="p.name + ': ' + p.type_label + (p.description ? ' — ' + p.description : '')">
            <Handle type="target" :id="p.name" :position="Position.Left" class="md-handle"
                    :class="{'md-port-issue': data.issue_ports && data.issue_ports.includes(p.name)}"
                    :style="{background: p.colour}" :data-port="p.name" :data-port-type="p.type_label" />
            <span>{{ p.name }}</span><span class="md-port-type" :style="{color: p.colour}">{{ p.type_label }}</span>
          </div>
        </div>
        <div class="md-ports-out">
          <div v-for="p in data.outputs" :key="'o-' + p.name" class="md-port md-port-out"
               :title="p.name + ': ' + p.type_label + (p.description ? ' — ' + p.description : '')">
            <span class="md-port-type" :style="{color: p.colour}">{{ p.type_label }}</span><span>{{ p.name }}</span>
            <Handle type="source" :id="p.name" :position="Position.Right" class="md-handle"
                    :style="{background: p.colour}" :data-port="p.name" :data-port-type="p.type_label" />
          </div>
        </div>
      </div>
      <div v-if="data.issues && data.issues.length" class="md-issues">
        <div v-for="(issue, i) in data.issues" :key="i">⚠ {{ issue }}</div>
      </div>
      <div v-if="data.state" class="md-state" :data-state="data.state">{{ data.state_label }}</div>
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
  },
  data() {
    return { nodeTypes: { minddocs: markRaw(MindNode) }, selectedNodes: [], selectedEdges: [] };
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
      setTimeout(() => instance.fitView({ padding: 0.2 }), 50);
      this.$emit("ready");
    },
    fit_view() {
      if (this.flow) this.flow.fitView({ padding: 0.2 });
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
      <VueFlow :nodes="nodes" :edges="edges" :node-types="nodeTypes" :snap-to-grid="snap" :snap-grid="[16, 16]"
               :delete-key-code="null" :is-valid-connection="isValid" :min-zoom="0.1" :max-zoom="2"
               :connection-radius="24" :default-edge-options="{type: 'default'}"
               @pane-ready="onReady" @connect="onConnect" @connect-start="onConnectStart"
               @connect-end="onConnectEnd" @node-drag-stop="onDragStop"
               @nodes-change="onNodesChange" @edges-change="onEdgesChange"
               @node-click="blurInputs" @pane-click="blurInputs" @edge-click="blurInputs">
        <Background :gap="16" />
        <MiniMap v-if="minimap" pannable zoomable />
      </VueFlow>
    </div>`,
};
