// The page's own ECharts build: only the charts and components the widget
// catalogue draws (client/src/widgets/), bundled by esbuild from the npm
// package (`echarts/core` is tree-shakeable). The full dist/echarts.min.js
// is ~1 MB (334 KB gzip); this is what the page downloads instead.
//
// Add a chart kind or an option component here when a widget starts using
// it: ECharts ignores (with a console warning) option parts whose component
// is not registered, so a missing line shows as a missing tooltip or legend.
import * as echarts from 'echarts/core';
import { BarChart, LineChart, PieChart, GaugeChart } from 'echarts/charts';
import {
  GridComponent,
  TooltipComponent,
  LegendComponent,
  MarkLineComponent,
  MarkAreaComponent,
} from 'echarts/components';
import { LabelLayout } from 'echarts/features';
import { CanvasRenderer } from 'echarts/renderers';

echarts.use([
  BarChart,
  LineChart,
  PieChart,
  GaugeChart,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  MarkLineComponent,
  MarkAreaComponent,
  LabelLayout,
  CanvasRenderer,
]);

// Charming's WasmRenderer calls the global `echarts.init`.
window.echarts = echarts;
