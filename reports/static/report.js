/* Render every chart from its JSON blob; plotly.js is inlined once in the page. */
(function () {
  "use strict";
  var config = {responsive: true, displaylogo: false, scrollZoom: false};
  var divs = document.querySelectorAll("div.chart[data-fig]");
  for (var i = 0; i < divs.length; i++) {
    var div = divs[i];
    var spec = JSON.parse(document.getElementById(div.getAttribute("data-fig")).textContent);
    Plotly.newPlot(div, spec.data, spec.layout, config);
  }
  document.documentElement.setAttribute("data-charts-rendered", String(divs.length));
})();
