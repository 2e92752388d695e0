using System.Globalization;
using HeadWise.Eval;
using ScottPlot;

namespace HeadWise.Reports;

/// <summary>Needle-in-a-haystack heatmap of one result: prompt length (tokens) across, needle depth (%) down, accuracy (%) as colour.</summary>
public static class NeedleHeatmap
{
    /// <summary>Writes the needle grid of <paramref name="r"/> as a PNG.</summary>
    public static void Save(BenchResult r, string path, int width = 900, int height = 560)
    {
        if (r.Depths is null) throw new HeadWiseException($"task {r.Task} has no needle depth to draw a heatmap of");
        var lengths = r.Lengths.Order().ToArray();
        var depths = r.Depths.Order().ToArray();
        // Row 0 is drawn at the top: depth 0 % (start of the haystack) at the top, as in Kamradt's plots.
        var z = new double[depths.Length, lengths.Length];
        foreach (var c in r.Grid)
            z[Array.IndexOf(depths, c.Depth!.Value), Array.IndexOf(lengths, c.Length)] = c.Accuracy * 100;
        var plot = new Plot();
        var hm = plot.Add.Heatmap(z);
        hm.Colormap = new ScottPlot.Colormaps.Viridis();
        hm.ManualRange = new ScottPlot.Range(0, 100);
        var bar = plot.Add.ColorBar(hm);
        bar.Label = "Accuracy (%)";
        for (int y = 0; y < depths.Length; y++)
            for (int x = 0; x < lengths.Length; x++)
            {
                var t = plot.Add.Text(z[y, x].ToString("0", CultureInfo.InvariantCulture), x, depths.Length - 1 - y);
                t.LabelFontColor = z[y, x] > 60 ? Colors.Black : Colors.White;
                t.LabelAlignment = Alignment.MiddleCenter;
                t.LabelFontSize = 14;
            }
        plot.Axes.Bottom.SetTicks([.. Enumerable.Range(0, lengths.Length).Select(i => (double)i)], [.. lengths.Select(l => l.ToString(CultureInfo.InvariantCulture))]);
        plot.Axes.Left.SetTicks([.. Enumerable.Range(0, depths.Length).Select(i => (double)(depths.Length - 1 - i))], [.. depths.Select(d => (d * 100).ToString("0", CultureInfo.InvariantCulture))]);
        plot.Title($"{r.Model} · {r.Task} · {r.Policy} (budget {r.Budget}): needle retrieval");
        plot.XLabel("Prompt length (tokens)");
        plot.YLabel("Needle depth (% of haystack)");
        plot.SavePng(path, width, height);
    }
}
