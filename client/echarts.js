// The page's own ECharts build: only the charts and components the widget
// catalogue draws (client/src/widgets/), bundled by esbuild from the npm
// package (`echarts/core` is tree-shakeable). The full dist/echarts.min.js
// is ~1 MB (334 KB gzip); this is what the page downloads instead.
//
// Add a chart kind or an option component here when a widget starts using
// it: ECharts ignores (with a console warning) option parts whose component
// is not registered, so a missing line shows as a missing tooltip or legend.
// Not registered because no widget's options use them: markLine/markArea
// (7 KB gzip), the scrollable legend (LegendPlainComponent is the legend
// without `type: 'scroll'`, 2 KB gzip less than LegendComponent), and the
// LabelLayout feature (2.7 KB gzip): it serves the `labelLayout` option
// (hideOverlap / moveOverlap of series labels, not used) and label
// animations (every chart sets `animation: false`); pies lay out their own
// labels and label lines, axis labels their own overlap.
import * as echarts from 'echarts/core';
import { BarChart, LineChart, PieChart, GaugeChart } from 'echarts/charts';
import {
  GridComponent,
  TooltipComponent,
  LegendPlainComponent,
} from 'echarts/components';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([
  BarChart,
  LineChart,
  PieChart,
  GaugeChart,
  GridComponent,
  TooltipComponent,
  LegendPlainComponent,
  CanvasRenderer,
]);

// Charming's WasmRenderer calls the global `echarts.init`.
window.echarts = echarts;
