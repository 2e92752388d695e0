using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Models;

/// <summary>RoPE against the RoFormer formula written out in doubles, for every path Rope.Apply can take.</summary>
public class RopeTests
{
    private const int Heads = 2, T = 5, D = 8;

    private static ModelSpec Spec(RopeLayout layout) => new()
    {
        Architecture = "llama", Layers = 1, Dim = Heads * D, Heads = Heads, KvHeads = Heads, HeadDim = D, FfnDim = 16,
        VocabSize = 10, ContextLength = 64, Rope = layout, RopeTheta = 10000,
    };

    /// <summary>Pair i of a head rotates by position * theta^(-2i/d); interleaved pairs are (2i, 2i+1), halves (i, i + d/2).</summary>
    private static double[] Expected(float[] x, long[] positions, RopeLayout layout)
    {
        var y = new double[x.Length];
        for (int h = 0; h < Heads; h++)
            for (int t = 0; t < T; t++)
                for (int i = 0; i < D / 2; i++)
                {
                    int baseIndex = (h * T + t) * D;
                    int a = layout == RopeLayout.Interleaved ? 2 * i : i, b = layout == RopeLayout.Interleaved ? 2 * i + 1 : i + D / 2;
                    double angle = positions[t] * Math.Pow(10000, -2.0 * i / D);
                    double x0 = x[baseIndex + a], x1 = x[baseIndex + b];
                    y[baseIndex + a] = x0 * Math.Cos(angle) - x1 * Math.Sin(angle);
                    y[baseIndex + b] = x0 * Math.Sin(angle) + x1 * Math.Cos(angle);
                }
        return y;
    }

    private static void AssertClose(double[] expected, Tensor actual)
    {
        var got = actual.contiguous().to(ScalarType.Float64).data<double>().ToArray();
        Assert.Equal(expected.Length, got.Length);
        for (int i = 0; i < got.Length; i++) Assert.True(Math.Abs(got[i] - expected[i]) < 1e-5, $"element {i}: {got[i]} vs {expected[i]}");
    }

    [Theory]
    [InlineData(RopeLayout.Interleaved)]
    [InlineData(RopeLayout.Halves)]
    public void Rotation_matches_the_formula_for_contiguous_odd_offset_and_explicit_positions(RopeLayout layout)
    {
        using var rope = new Rope(Spec(layout), 64);
        using var x = torch.randn(1, Heads, T, D, generator: new torch.Generator(7));
        var values = x.data<float>().ToArray();

        using var rotated = rope.Apply(x, 11);
        AssertClose(Expected(values, [11, 12, 13, 14, 15], layout), rotated);

        // The same numbers at an odd storage offset and odd strides (a view into a wider tensor): the complex path cannot
        // view these as pairs, so the general path must give the same result.
        using var wide = torch.zeros(1, Heads, T, D + 1);
        using var inner = wide.narrow(3, 1, D);
        inner.copy_(x);
        using var rotatedView = rope.Apply(inner, 11);
        AssertClose(Expected(values, [11, 12, 13, 14, 15], layout), rotatedView);

        long[] kept = [0, 3, 9, 40, 63];
        using var positions = torch.tensor(kept);
        using var rotatedAt = rope.Apply(x, positions);
        AssertClose(Expected(values, kept, layout), rotatedAt);
    }

    /// <summary>
    /// A file may claim a 2^24-token context (issue 22): the tables start at <see cref="Rope.InitialPositions"/> and
    /// grow only when a forward pass reaches further, and the grown rows still follow the formula.
    /// </summary>
    [Theory]
    [InlineData(RopeLayout.Interleaved)]
    [InlineData(RopeLayout.Halves)]
    public void Tables_cover_only_the_positions_a_run_reaches(RopeLayout layout)
    {
        using var rope = new Rope(Spec(layout) with { ContextLength = 1 << 24 }, 1 << 24);
        Assert.Equal(Rope.InitialPositions, rope.TabledPositions);
        using var x = torch.randn(1, Heads, T, D, generator: new torch.Generator(7));
        var values = x.data<float>().ToArray();

        long start = 3 * Rope.InitialPositions;
        using var rotated = rope.Apply(x, start);
        AssertClose(Expected(values, Enumerable.Range(0, T).Select(i => start + i).ToArray(), layout), rotated);
        Assert.InRange(rope.TabledPositions, start + T, 4L * Rope.InitialPositions);

        long[] kept = [1, 5 * Rope.InitialPositions, 7, 2, 0];
        using var positions = torch.tensor(kept);
        using var rotatedAt = rope.Apply(x, positions);
        AssertClose(Expected(values, kept, layout), rotatedAt);
        Assert.InRange(rope.TabledPositions, 5 * Rope.InitialPositions + 1, 1 << 24);
    }
}
