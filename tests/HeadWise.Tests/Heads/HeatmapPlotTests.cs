using HeadWise.Reports;

namespace HeadWise.Tests.Heads;

public class HeatmapPlotTests
{
    [Fact]
    public void Writes_a_png_for_one_head_and_for_a_grid_and_refuses_mismatched_labels()
    {
        var dir = TestPaths.NewTempDir();
        var p = new double[,] { { 1, 0, 0 }, { 0.5, 0.5, 0 }, { 0.2, 0.3, 0.5 } };
        string[] labels = ["<s>", "▁Lily", "\n"];
        var one = Path.Combine(dir, "one.png");
        var grid = Path.Combine(dir, "grid.png");
        HeatmapPlot.SaveHead(one, p, labels, labels, "m: layer 0, head 1");
        HeatmapPlot.SaveGrid(grid, [(p, "h0"), (p, "h1"), (p, "h2")], labels, labels);
        foreach (var f in new[] { one, grid })
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(f)[..4]);
        Assert.Contains("3x3", Assert.Throws<HeadWiseException>(() => HeatmapPlot.SaveHead(one, p, labels[..2], labels, "t")).Message);
    }
}
