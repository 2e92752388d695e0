using HeadWise.KvCache;
using TorchSharp;
using static HeadWise.Tests.KvCache.KvTestCases;

namespace HeadWise.Tests.KvCache;

/// <summary>EMS: global-local eviction, and the evicted key/value merged into the most similar kept slot.</summary>
public class EmsPolicyTests
{
    [Fact]
    public void Ems_evicts_the_least_attended_and_merges_it_into_the_kept_key_pointing_the_same_way()
    {
        var spec = Spec();
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("ems", KvBudget.Parse("2"), spec, parameters: "window=1"), CompressMode.Chunked);
        // Queries e0. Keys: position 0 = 10 e0 (attended), 1 = e1, 2 = 2 e1 (the window, kept). Position 1 is evicted and,
        // being parallel to position 2's key, merges into it with weight a = cum1 / (cum1 + cum2).
        var q = torch.zeros(1, 2, 3, HeadDim);
        q[.., .., .., 0] = 1;
        var k = torch.zeros(1, 2, 3, HeadDim);
        k[0, .., 0, 0] = 10; k[0, .., 1, 1] = 1; k[0, .., 2, 1] = 2;
        torch.manual_seed(3);
        var v = torch.randn(1, 2, 3, HeadDim);
        cache.Attend(0, q, k, v);
        cache.Advance(3);
        // Scores q.k / sqrt(4): 5 for position 0, 0 otherwise.
        double e5 = Math.Exp(5), cum1 = 1 / (e5 + 1) + 1 / (e5 + 2), cum2 = 1 / (e5 + 2), a = cum1 / (cum1 + cum2);
        for (int h = 0; h < 2; h++)
        {
            Assert.Equal(new long[] { 0, 2 }, cache.KeptPositions(0, h));
            var (keys, values) = cache.KeptRows(0, h);
            Assert.True(keys[0].allclose(k[0, h, 0]), "the attended key is untouched");
            var mergedK = k[0, h, 2] * (1 - a) + k[0, h, 1] * a;
            var mergedV = v[0, h, 2] * (1 - a) + v[0, h, 1] * a;
            Assert.True(keys[1].allclose(mergedK, rtol: 1e-5, atol: 1e-6), $"key {keys[1].str()} vs {mergedK.str()}");
            Assert.True(values[1].allclose(mergedV, rtol: 1e-5, atol: 1e-6), $"value {values[1].str()} vs {mergedV.str()}");
        }
    }

    [Fact]
    public void Ems_rejects_an_alpha_outside_zero_one()
    {
        var e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("ems", KvBudget.Parse("2"), Spec(), parameters: "alpha=2"));
        Assert.Contains("ems: alpha=2 must be in [0, 1]", e.Message);
    }
}
