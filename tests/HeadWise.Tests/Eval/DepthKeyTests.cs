using HeadWise.Eval;

namespace HeadWise.Tests.Eval;

/// <summary>Issue 23: a depth's key in ByDepth is written with at most three decimals ("0.###"), invariant culture.</summary>
public class DepthKeyTests
{
    [Theory]
    [InlineData(0.5, "0.5")]
    [InlineData(1.0, "1")]
    [InlineData(0.12345, "0.123")]
    [InlineData(0.6666666, "0.667")]
    [InlineData(0.00001, "0")]
    public void A_depth_key_has_at_most_three_decimals(double depth, string key) => Assert.Equal(key, BenchRunner.Key(depth));
}
