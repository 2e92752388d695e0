using ScottPlot;

namespace HeadWise.Reports;

/// <summary>
/// Attention patterns as heatmaps (ScottPlot 5): queries down the left, keys along the bottom, token labels on both axes,
/// a colour bar, and the layer and head in the title; several heads as a grid.
/// </summary>
public static class HeatmapPlot
{
    /// <summary>One head's pattern [T, S] (rows are queries) to a PNG.</summary>
    public static void SaveHead(string path, double[,] pattern, IReadOnlyList<string> queryLabels, IReadOnlyList<string> keyLabels, string title)
    {
        var plot = Build(pattern, queryLabels, keyLabels, title + " (rows attend to columns)");
        int t = pattern.GetLength(0), s = pattern.GetLength(1);
        plot.SavePng(path, Math.Clamp(220 + 28 * s, 500, 2400), Math.Clamp(160 + 24 * t, 420, 2200));
    }

    /// <summary>Several heads' patterns as a grid of heatmaps (one title each) to a PNG.</summary>
    public static void SaveGrid(string path, IReadOnlyList<(double[,] Pattern, string Title)> heads, IReadOnlyList<string> queryLabels, IReadOnlyList<string> keyLabels)
    {
        if (heads.Count == 0) throw new HeadWiseException("no heads to draw");
        int cols = (int)Math.Ceiling(Math.Sqrt(heads.Count)), rows = (heads.Count + cols - 1) / cols;
        var multi = new Multiplot();
        var plots = heads.Select(h => Build(h.Pattern, queryLabels, keyLabels, h.Title)).ToList();
        multi.Reset(plots[0]); // a new Multiplot starts with an empty plot of its own
        foreach (var p in plots.Skip(1)) multi.AddPlot(p);
        multi.Layout = new ScottPlot.MultiplotLayouts.Grid(rows, cols);
        int s = keyLabels.Count, t = queryLabels.Count;
        multi.SavePng(path, cols * Math.Clamp(220 + 22 * s, 420, 1200), rows * Math.Clamp(160 + 20 * t, 360, 1100));
    }

    private static Plot Build(double[,] pattern, IReadOnlyList<string> queryLabels, IReadOnlyList<string> keyLabels, string title)
    {
        int t = pattern.GetLength(0), s = pattern.GetLength(1);
        if (queryLabels.Count != t || keyLabels.Count != s)
            throw new HeadWiseException($"pattern is {t}x{s} but there are {queryLabels.Count} query and {keyLabels.Count} key labels");
        var plot = new Plot();
        var map = plot.Add.Heatmap(pattern);
        map.Colormap = new ScottPlot.Colormaps.Viridis();
        // Cell (i, j) centred on x = j, y = t-1-i: row 0 (the first query) at the top.
        map.Extent = new CoordinateRect(-0.5, s - 0.5, -0.5, t - 0.5);
        map.ManualRange = new ScottPlot.Range(0, 1);
        plot.Add.ColorBar(map);
        plot.Title(title);
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, s).Select(j => (double)j).ToArray(), keyLabels.Select(Clean).ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = -90;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleRight;
        plot.Axes.Left.SetTicks(Enumerable.Range(0, t).Select(i => (double)(t - 1 - i)).ToArray(), queryLabels.Select(Clean).ToArray());
        plot.YLabel("query token");
        plot.XLabel("key token (colour: attention weight)");
        // Room for the rotated key labels, so none is clipped.
        plot.Axes.Bottom.MinimumSize = 40 + 8 * keyLabels.Select(l => Clean(l).Length).DefaultIfEmpty(1).Max();
        plot.Axes.SetLimits(-0.5, s - 0.5, -0.5, t - 0.5);
        return plot;
    }

    /// <summary>Labels as people read them: visible spaces and newlines, never empty.</summary>
    private static string Clean(string token)
    {
        var s = token.Replace("\n", "\\n").Replace('▁', ' ');
        return string.IsNullOrWhiteSpace(s) ? $"'{s}'" : s.Trim().Length < s.Length ? "_" + s.Trim() : s;
    }
}
