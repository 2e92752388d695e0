using HeadWise.KvCache;
using TorchSharp;
using static HeadWise.Tests.KvCache.KvTestCases;

namespace HeadWise.Tests.KvCache;

/// <summary>Policies whose layers depend on each other (SpAtten; DELTA: DeltaTests), on constructed cases with different keys per layer.</summary>
public class LayerAwarePolicyTests
{
    /// <summary>Like <see cref="KvTestCases.Run"/>, but layer l's keys come from keyScale(l, position).</summary>
    private static void RunLayers(HeadWiseKvCache cache, int layers, int tokens, int prefill, Func<int, long, float> keyScale)
    {
        var spec = cache.Policy.Spec;
        for (long start = 0; start < tokens;)
        {
            int t = start == 0 ? prefill : 1;
            using var scope = torch.NewDisposeScope();
            for (int l = 0; l < layers; l++)
            {
                var (q, k, v) = Step(spec, start, t, (_, p) => keyScale(l, p));
                cache.Attend(l, q, k, v);
            }
            cache.Advance(t);
            start += t;
        }
    }

    [Fact]
    public void SpAtten_tokens_pruned_in_a_layer_stay_pruned_in_later_layers_with_room()
    {
        var spec = Spec(layers: 2);
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("spatten", KvBudget.Parse("3,8"), spec), CompressMode.Chunked);
        // Layer 0 (budget 3): 3 and 7 draw the attention, then the first position (every query sees it, early queries
        // see little else: 1.9 against 0.85 for position 1). Layer 1 has room for 8 and its own keys favour 10, but
        // the cascade keeps it to what layer 0 kept.
        RunLayers(cache, 2, tokens: 20, prefill: 20, (l, p) => l == 0 && (p == 3 || p == 7) ? 10f : l == 1 && p == 10 ? 10f : 0f);
        for (int h = 0; h < 2; h++)
        {
            Assert.Equal(new long[] { 0, 3, 7 }, cache.KeptPositions(0, h));
            Assert.Equal(new long[] { 0, 3, 7 }, cache.KeptPositions(1, h));
        }
    }

    [Fact]
    public void SpAtten_prunes_the_head_with_the_weakest_output_which_then_keeps_nothing_and_outputs_zero()
    {
        var spec = Spec(heads: 4, kvHeads: 4);
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("spatten", KvBudget.Parse("8"), spec, parameters: "heads=0.25"), CompressMode.Chunked);
        // Values of KV head 2 are 100x smaller than the others': its output magnitude is the lowest, so with a quarter of
        // the 4 heads to prune, it is the one.
        torch.Tensor? lastOutput = null;
        for (long start = 0; start < 24;)
        {
            int t = start == 0 ? 12 : 1;
            using var scope = torch.NewDisposeScope();
            var (q, k, v) = Step(spec, start, t, (_, p) => p == 3 ? 10f : 0f);
            v[0, 2].mul_(0.01f);
            var z = cache.Attend(0, q, k, v);
            if (start == 23) lastOutput = z.detach().clone().DetachFromDisposeScope();
            cache.Advance(t);
            start += t;
        }
        Assert.Equal(0, cache.Kept(0, 2));
        for (int h = 0; h < 4; h++)
            if (h != 2) Assert.Equal(8, cache.Kept(0, h));
        Assert.Equal(0f, lastOutput![0, 2].abs().max().item<float>());
        for (int h = 0; h < 4; h++)
            if (h != 2) Assert.True(lastOutput[0, h].abs().max().item<float>() > 0.01f, $"head {h} must still attend");
        Assert.Equal(3L * 8 * KvTestCases.HeadDim * 2 * sizeof(float), cache.Bytes);
        lastOutput.Dispose();
    }

    [Fact]
    public void SpAtten_head_fraction_outside_0_1_is_refused()
    {
        var spec = Spec();
        var e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("spatten", KvBudget.Parse("8"), spec, parameters: "heads=1"));
        Assert.Contains("spatten: heads=1 must be in [0, 1)", e.Message);
    }

    [Fact]
    public void SpAtten_decoding_keeps_the_cascade_importance_ranking()
    {
        var spec = Spec(layers: 2);
        using var cache = new HeadWiseKvCache(spec, KvPolicies.Create("spatten", KvBudget.Parse("3,3"), spec), CompressMode.Chunked);
        // Decoding one token at a time: heavy 3 and 7 in layer 0, heavy 3 in layer 1; the first position stays third.
        RunLayers(cache, 2, tokens: 20, prefill: 12, (l, p) => (l == 0 && (p == 3 || p == 7)) || (l == 1 && p == 3) ? 10f : 0f);
        for (int l = 0; l < 2; l++) Assert.Equal(new long[] { 0, 3, 7 }, cache.KeptPositions(l, 0));
    }
}
