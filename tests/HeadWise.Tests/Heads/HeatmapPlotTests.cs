using HeadWise.Reports;
using SkiaSharp;

namespace HeadWise.Tests.Heads;

public class HeatmapPlotTests
{
    private static readonly string[] Labels = ["<s>", "▁Lily", "\n"];

    [Fact]
    public void Writes_a_png_for_one_head_and_for_a_grid_and_refuses_mismatched_labels()
    {
        var dir = TestPaths.NewTempDir();
        var p = new double[,] { { 1, 0, 0 }, { 0.5, 0.5, 0 }, { 0.2, 0.3, 0.5 } };
        var one = Path.Combine(dir, "one.png");
        var grid = Path.Combine(dir, "grid.png");
        HeatmapPlot.SaveHead(one, p, Labels, Labels, "m: layer 0, head 1");
        HeatmapPlot.SaveGrid(grid, [(p, "h0"), (p, "h1"), (p, "h2")], Labels, Labels);
        using (var head = SKBitmap.Decode(one))
        {
            Assert.Equal((500, 420), (head.Width, head.Height)); // the size rule's floor for 3 tokens
            // Viridis ends: the weight-1 cell is yellow, the weight-0 cells dark purple.
            Assert.True(Count(head, c => c.Red > 220 && c.Green > 200 && c.Blue < 90) > 500, "no yellow (weight 1) cell");
            Assert.True(Count(head, c => c.Red < 100 && c.Green < 40 && c.Blue > 60) > 1500, "no purple (weight 0) cells");
        }
        using (var g = SKBitmap.Decode(grid))
        {
            Assert.Equal((2 * 420, 2 * 360), (g.Width, g.Height)); // 3 heads in a 2x2 grid
            Assert.True(Count(g, c => c.Red > 220 && c.Green > 200 && c.Blue < 90) > 3 * 300, "not every head was drawn");
        }
        Assert.Contains("3x3", Assert.Throws<HeadWiseException>(() => HeatmapPlot.SaveHead(one, p, Labels[..2], Labels, "t")).Message);
    }

    [Fact]
    public void The_picture_follows_the_weights()
    {
        // One weight at the top-left against the same weight at the bottom-right: the yellow cell moves.
        var dir = TestPaths.NewTempDir();
        var a = new double[3, 3]; a[0, 0] = 1;
        var b = new double[3, 3]; b[2, 2] = 1;
        HeatmapPlot.SaveHead(Path.Combine(dir, "a.png"), a, Labels, Labels, "t");
        HeatmapPlot.SaveHead(Path.Combine(dir, "b.png"), b, Labels, Labels, "t");
        using var ia = SKBitmap.Decode(Path.Combine(dir, "a.png"));
        using var ib = SKBitmap.Decode(Path.Combine(dir, "b.png"));
        var (ya, yb) = (YellowCentre(ia), YellowCentre(ib));
        // Queries run down the left and keys along the bottom: (0,0) is left of and above (2,2).
        Assert.True(ya.X < yb.X - 50, $"yellow at x {ya.X} vs {yb.X}");
        Assert.True(ya.Y < yb.Y - 50, $"yellow at y {ya.Y} vs {yb.Y}");
    }

    private static bool Yellow(SKColor c) => c.Red > 220 && c.Green > 200 && c.Blue < 90;

    private static int Count(SKBitmap bitmap, Func<SKColor, bool> match)
    {
        int n = 0;
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width; x++)
                if (match(bitmap.GetPixel(x, y))) n++;
        return n;
    }

    /// <summary>The centre of the yellow cell, leaving out the colour bar (the rightmost fifth of the image).</summary>
    private static (double X, double Y) YellowCentre(SKBitmap bitmap)
    {
        double sx = 0, sy = 0; int n = 0;
        for (int y = 0; y < bitmap.Height; y++)
            for (int x = 0; x < bitmap.Width * 4 / 5; x++)
                if (Yellow(bitmap.GetPixel(x, y))) { sx += x; sy += y; n++; }
        Assert.True(n > 300, $"only {n} yellow pixels");
        return (sx / n, sy / n);
    }
}
