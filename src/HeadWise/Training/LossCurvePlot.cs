namespace HeadWise.Training;

/// <summary>The loss curve as a PNG: per-step training loss and its moving average, with curriculum phase starts marked.</summary>
internal static class LossCurvePlot
{
    public static void Save(string path, IReadOnlyList<StepRecord> steps, TrainConfig config)
    {
        if (steps.Count == 0) return;
        var plt = new ScottPlot.Plot();
        double[] xs = steps.Select(s => (double)s.Step).ToArray(), ys = steps.Select(s => s.Loss).ToArray();
        var raw = plt.Add.ScatterLine(xs, ys);
        raw.LegendText = "loss (answers weighted)";
        raw.LineWidth = 1;
        raw.Color = ScottPlot.Colors.LightGray;
        int window = Math.Max(1, steps.Count / 50);
        var smooth = ys.Select((_, i) => ys.Skip(Math.Max(0, i - window + 1)).Take(Math.Min(window, i + 1)).Average()).ToArray();
        var avg = plt.Add.ScatterLine(xs, smooth);
        avg.LegendText = $"moving average ({window} steps)";
        avg.LineWidth = 2;
        foreach (var p in config.Curriculum.Skip(1).Where(p => p.FromStep <= steps[^1].Step))
            plt.Add.VerticalLine(p.FromStep, 1, ScottPlot.Colors.Gray, ScottPlot.LinePattern.Dashed).Text = $"seq {p.SeqLen}";
        plt.Title($"{config.Name}: training loss");
        plt.XLabel("step");
        plt.YLabel("cross-entropy (nats)");
        plt.ShowLegend();
        plt.SavePng(path, 900, 500);
    }
}
