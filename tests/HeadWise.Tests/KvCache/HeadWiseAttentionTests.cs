using HeadWise.KvCache;
using HeadWise.KvCache.Policies;
using TorchSharp;
using static TorchSharp.torch;
using static HeadWise.Tests.KvCache.KvTestCases;

namespace HeadWise.Tests.KvCache;

/// <summary>The cache's attention against a hand-written softmax over exactly the positions each head kept.</summary>
public class HeadWiseAttentionTests
{
    [Theory]
    [InlineData("streaming", CompressMode.Chunked)] // fused kernel path
    [InlineData("h2o", CompressMode.Chunked)]       // explicit softmax path
    [InlineData("snapkv", CompressMode.Context)]    // uncompressed prefill, one compression, decode appends (fused, no statistics)
    [InlineData("h2o", CompressMode.Context)]       // uncompressed prefill gathering statistics, then evicting every step
    public void Attention_over_kept_positions_matches_a_reference(string name, CompressMode mode)
    {
        var spec = Spec(heads: 4, kvHeads: 2);
        torch.manual_seed(5);
        var q = torch.randn(1, 4, 30, HeadDim);
        var k = torch.randn(1, 2, 30, HeadDim);
        var v = torch.randn(1, 2, 30, HeadDim);
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create(name, KvBudget.Parse("7"), spec,
            parameters: name == "streaming" ? "sinks=2" : name == "snapkv" ? "window=3" : null), mode);
        // Chunks of 12 and 8 (the second attends what the first kept, causally within itself), then 10 decode steps.
        int[] steps = [12, 8, .. Enumerable.Repeat(1, 10)];
        long start = 0;
        foreach (var t in steps)
        {
            var kept = Enumerable.Range(0, 2).Select(h => cache.KeptPositions(0, h)).ToArray();
            using var z = cache.Attend(0, q.narrow(2, start, t), k.narrow(2, start, t), v.narrow(2, start, t));
            cache.Advance(t);
            if (start + t == 20) cache.Compress();   // the context's end (a no-op when chunked)
            for (int qh = 0; qh < 4; qh++)
            {
                int kvh = qh / 2;
                for (int i = 0; i < t; i++)
                {
                    long pos = start + i;
                    var visible = kept[kvh].Concat(Range(start, pos + 1)).ToArray();
                    using var idx = torch.tensor(visible);
                    var ks = k[0, kvh].index_select(0, idx);
                    var vs = v[0, kvh].index_select(0, idx);
                    var w = torch.softmax(torch.mv(ks, q[0, qh, pos]) / Math.Sqrt(HeadDim), 0);
                    var expected = torch.mv(vs.t(), w);
                    var actual = z[0, qh, i];
                    Assert.True(actual.allclose(expected, rtol: 1e-5, atol: 1e-5), $"{name} head {qh} position {pos}: {(actual - expected).abs().max().item<float>()}");
                }
            }
            start += t;
        }
        Assert.Equal(name == "snapkv" ? 7 + 10 : 7, cache.Kept(0, 0));   // snapkv appends while decoding
    }

    [Fact]
    public void Bytes_equal_the_tensors_and_the_theoretical_count()
    {
        var spec = Spec(layers: 3, heads: 4, kvHeads: 2);
        var pattern = new HeadWise.Analysis.DuoPattern([[1, 0], [0, 0], [0, 1]], Sinks: 2, Recent: 23);
        using var cache = new HeadWiseKvCache(spec, new DuoPolicy(spec, KvBudget.Parse("0.25"), pattern, threshold: 0.5), CompressMode.Chunked);
        Run(cache, spec, tokens: 100, prefill: 64, (_, _) => 0f);
        // Theoretical: full heads keep 100, streaming heads 2 sinks + 23 recent = 25; 2 full + 4 streaming.
        long theoretical = (2 * 100 + 4 * 25) * HeadDim * 2 * sizeof(float);
        Assert.Equal(theoretical, cache.Bytes);
        Assert.Equal(theoretical, KvSizes.Bytes(cache.Policy, 100));
        // Decoding keeps a few spare rows per head (AllocatedBytes >= Bytes); Compact trims to exactly what is kept.
        Assert.True(cache.AllocatedBytes >= cache.Bytes);
        cache.Compact();
        Assert.Equal(theoretical, cache.AllocatedBytes);
    }

    [Fact]
    public void After_a_prefill_chunk_the_tensors_hold_exactly_the_kept_bytes()
    {
        var spec = Spec(layers: 2);
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("streaming", KvBudget.Parse("10"), spec), CompressMode.Chunked);
        Run(cache, spec, tokens: 50, prefill: 50, (_, _) => 0f);
        long expected = 2 * 2 * 10 * HeadDim * 2 * sizeof(float);
        Assert.Equal(expected, cache.Bytes);
        Assert.Equal(expected, cache.AllocatedBytes);
    }
}
