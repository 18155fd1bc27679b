/* derive: the step-through of the graph (html/stepthrough.html.j2). It shows the states the page lists in its
   JSON island, one at a time: the node being processed highlighted, the gradients written so far (those of this
   step marked), the step's rule and products below. The steps are not worked out here, only framed and shown;
   without this script the page stays static. */
(function () {
  "use strict";
  function setUp(root) {
    var data = JSON.parse(root.querySelector(".step-data").textContent);
    var svg = document.getElementById(root.getAttribute("data-figure"));
    var legible = parseFloat(root.getAttribute("data-legible"));
    var states = root.querySelectorAll("template.step-state");
    var panel = root.querySelector(".step-panel");
    var status = root.querySelector(".step-status");
    var controls = root.querySelector(".step-controls");
    var full = svg.getAttribute("viewBox").split(" ").map(Number);
    var last = data.steps.length - 1;
    var current = 0;
    var parts = null;

    function extent(shape) {
      /* A shape's box from its attributes, not from the fonts (which may still be loading when this runs):
         a circle's own, a label's from its font size and its length (DejaVu Serif's figures are 0.64 em). */
      var number = function (name) { return parseFloat(shape.getAttribute(name)); };
      if (shape.tagName === "circle") {
        return {x: number("cx") - number("r"), y: number("cy") - number("r"), width: 2 * number("r"),
                height: 2 * number("r")};
      }
      var size = number("font-size"), width = 0.64 * size * shape.textContent.length;
      var shift = {middle: width / 2, end: width}[shape.getAttribute("text-anchor")] || 0;
      return {x: number("x") - shift, y: number("y") - size, width: width, height: 1.3 * size};
    }

    function part(state, least) {
      /* The part of the graph around a state's node: its circle and the gradients it writes (at the start: the
         output's), at least `least` wide; `top` and `bottom` bound what shows within that width. */
      var node = CSS.escape(state.node === null ? data.output : state.node);
      var marks = svg.querySelectorAll('circle[data-node="' + node + '"], ' + (
        state.node === null ? '[data-grad="' + node + '"]:not([data-to])' : '[data-to="' + node + '"]'));
      var left = Infinity, right = -Infinity, top = Infinity, bottom = -Infinity, high = Infinity, low = -Infinity;
      marks.forEach(function (mark) {
        var box = extent(mark);
        left = Math.min(left, box.x);
        right = Math.max(right, box.x + box.width);
        high = Math.min(high, box.y - 24);
        low = Math.max(low, box.y + box.height + 24);
      });
      var width = Math.max(least, right - left + 24);
      var x = Math.min(Math.max((left + right - width) / 2, full[0]), full[0] + full[2] - width);
      svg.querySelectorAll("circle, text").forEach(function (shape) {
        var box = extent(shape);
        if (box.x + box.width >= x && box.x <= x + width) {
          top = Math.min(top, box.y - 8);
          bottom = Math.max(bottom, box.y + box.height + 8);
        }
      });
      return {x: x, width: width, top: top, bottom: bottom, high: high, low: low};
    }

    function plan() {
      /* The whole graph when its labels stay legible at the column's width; else one part per state, all of one
         height (the controls below never move while stepping): what shows around the marks, no taller than
         needed to hold every state's marks or than 0.6 of the width, centred on the marks. */
      var room = svg.parentNode.clientWidth - 16;
      parts = null;
      if (full[2] * legible > room) {
        parts = data.steps.map(function (state) { return part(state, room / legible); });
        var most = function (measure) { return Math.max.apply(null, parts.map(measure)); };
        var height = Math.min(most(function (p) { return p.bottom - p.top; }),
                              Math.max(most(function (p) { return p.low - p.high; }), 0.6 * room / legible));
        parts.forEach(function (p) {
          var top = Math.min(Math.max((p.high + p.low - height) / 2, p.top), p.bottom - height);
          p.top = Math.min(Math.max(top, full[1]), full[1] + full[3] - height);
          p.height = height;
        });
      }
    }

    function frame() {
      var view = parts === null ? {x: full[0], top: full[1], width: full[2], height: full[3]} : parts[current];
      svg.setAttribute("viewBox", [view.x, view.top, view.width, view.height].join(" "));
      svg.setAttribute("width", view.width);
      svg.setAttribute("height", view.height);
    }

    function show(index) {
      current = Math.max(0, Math.min(index, last));
      var state = data.steps[current];
      svg.querySelectorAll("[data-grad]").forEach(function (label) {
        var owner = label.getAttribute("data-grad");
        label.setAttribute("visibility", state.known.indexOf(owner) >= 0 ? "visible" : "hidden");
        label.classList.toggle("fresh", state.fresh.indexOf(owner) >= 0);
      });
      svg.querySelectorAll("circle[data-node]").forEach(function (circle) {
        circle.classList.toggle("current", circle.getAttribute("data-node") === state.node);
      });
      panel.replaceChildren(states[current].content.cloneNode(true));
      var title = panel.querySelector(".step-title");
      status.replaceChildren(document.createTextNode(state.status + " "));
      while (title.firstChild) {
        status.appendChild(title.firstChild);
      }
      title.remove();
      controls.querySelector('[data-action="previous"]').setAttribute("aria-disabled", String(current === 0));
      controls.querySelector('[data-action="reset"]').setAttribute("aria-disabled", String(current === 0));
      controls.querySelector('[data-action="next"]').setAttribute("aria-disabled", String(current === last));
      root.setAttribute("data-state", String(current));
      frame();
    }

    var moves = {
      reset: function () { return 0; },
      previous: function () { return current - 1; },
      next: function () { return current + 1; },
      Home: function () { return 0; },
      End: function () { return last; },
      ArrowLeft: function () { return current - 1; },
      ArrowRight: function () { return current + 1; }
    };
    controls.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-action]");
      if (button) {
        show(moves[button.getAttribute("data-action")]());
      }
    });
    root.addEventListener("keydown", function (event) {
      if (event.altKey || event.ctrlKey || event.metaKey || !moves.hasOwnProperty(event.key)) {
        return;
      }
      event.preventDefault();
      show(moves[event.key]());
    });
    window.addEventListener("resize", function () { plan(); frame(); });
    root.tabIndex = 0;
    root.classList.add("stepping");
    [controls, status, panel].forEach(function (element) { element.hidden = false; });
    plan();
    show(0);
  }
  document.querySelectorAll(".stepthrough").forEach(setUp);
})();
