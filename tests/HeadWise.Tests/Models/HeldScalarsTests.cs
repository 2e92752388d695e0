using System.Text.RegularExpressions;
using HeadWise.Tests.Training;

namespace HeadWise.Tests.Models;

/// <summary>
/// TorchSharp makes a temporary Scalar for a number passed to a tensor op, and the GC may free it while libtorch reads
/// it (sweeps died in Scalar::equal and Scalar::toFloat). The race cannot be provoked on demand, so this guards the whole
/// library (the per-token code first among it): it passes held Scalars, never numbers, to these ops.
/// </summary>
public class HeldScalarsTests
{
    // square() is pow(2) inside TorchSharp; masked_fill, index_fill, fill_, pow, clamp and arithmetic given a literal or a
    // float./double. constant.
    private static readonly Regex NumberToScalarOp = new(
        @"\.square\(\)|\.(masked_fill_?|index_fill_?|fill_|pow|clamp_min|clamp_max|add_?|sub_?|mul_?|div_?)\((?:[^()]*(?:\([^()]*\))?[^()]*,\s*)?(-?\d[\d.]*(?:[eE][-+]?\d+)?[fdFD]?|float\.\w+|double\.\w+)\s*\)");

    [Fact]
    public void The_library_passes_no_numbers_to_scalar_ops()
    {
        var src = Path.Combine(TrainConfigValidationTests.RepoRoot(), "src", "HeadWise");
        var files = Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")).ToList();
        Assert.True(files.Count > 50, $"found only {files.Count} source files under {src}");
        var hits = files.SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => !x.line.TrimStart().StartsWith("//") && NumberToScalarOp.IsMatch(x.line))
            .Select(x => $"{Path.GetFileName(x.f)}:{x.i + 1}: {x.line.Trim()}").ToList();
        Assert.True(hits.Count == 0, "numbers passed to Scalar ops (use HeldScalars):\n" + string.Join("\n", hits));
    }

    [Theory]
    [InlineData("scores.masked_fill(mask.logical_not(), float.NegativeInfinity);")]
    [InlineData("byKvHead.index_fill_(0, index, 0f);")]
    [InlineData("var r = x.square().mean([-1]);")]
    [InlineData("x.pow(2)")]
    [InlineData("scores.mul_(0.125)")]
    [InlineData("var normed = pooled / pooled.norm().clamp_min(1e-12);")]
    public void The_pattern_catches_the_forms_that_crashed(string line) => Assert.Matches(NumberToScalarOp, line);

    [Theory]
    [InlineData("scores.masked_fill(mask.logical_not(), HeldScalars.NegativeInfinity);")]
    [InlineData("byKvHead.index_fill_(0, index, HeldScalars.Zero);")]
    [InlineData("x.narrow(1, t - 1, 1)")]
    public void The_pattern_passes_held_scalars(string line) => Assert.DoesNotMatch(NumberToScalarOp, line);
}
