using HeadWise.Eval;
using ScottPlot;

namespace HeadWise.Reports;

/// <summary>Accuracy (%) against mean KV cache size (MiB), one line per policy: the trade-off curve of a sweep.</summary>
public static class AccuracyMemoryPlot
{
    /// <summary>Writes the PNG of <paramref name="results"/> (one sweep) to <paramref name="path"/>.</summary>
    public static void Save(IReadOnlyList<BenchResult> results, string path, int width = 900, int height = 560)
    {
        if (results.Count == 0) throw new HeadWiseException("no results to plot");
        var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category20(); // 13 policies: ten colours would repeat
        int i = 0;
        foreach (var g in results.GroupBy(r => r.Policy))
        {
            var pts = g.OrderBy(r => r.KvBytes).ToArray();
            var sc = plot.Add.Scatter(pts.Select(r => r.KvBytes / 1048576.0).ToArray(), pts.Select(r => r.Accuracy * 100).ToArray());
            sc.LegendText = g.Key == "full" ? "full cache" : g.Key;
            sc.Color = palette.GetColor(i);
            if (i++ % 2 == 1) sc.LinePattern = ScottPlot.LinePattern.Dashed; // neighbours in the palette are light/dark pairs
            sc.MarkerSize = 8;
            sc.LineWidth = 2;
        }
        var r0 = results[0];
        plot.Title($"{r0.Model} · {r0.Task}: accuracy vs KV cache (lengths {string.Join(", ", r0.Lengths)})");
        plot.XLabel("KV cache kept (MiB, mean per prompt)");
        plot.YLabel("Accuracy (%)");
        plot.Axes.SetLimitsY(-5, 105);
        var xs = results.Select(r => r.KvBytes / 1048576.0).ToArray();
        plot.Axes.SetLimitsX(0, xs.Max() * 1.1 + 1e-6); // from zero, so savings read as fractions of the full cache
        plot.ShowLegend(Edge.Right); // beside the plot: inside it, the legend hid a point (issue 21)
        plot.SavePng(path, width, height);
    }
}
