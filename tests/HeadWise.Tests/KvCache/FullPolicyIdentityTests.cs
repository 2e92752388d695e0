using HeadWise.Generation;
using HeadWise.KvCache;
using HeadWise.KvCache.Policies;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;
using HeadWise.Tests.Models;
using TorchSharp;

namespace HeadWise.Tests.KvCache;

/// <summary>`full` through the head-wise cache gives the logits of the plain cache bit for bit; compressed generation runs end to end.</summary>
public class FullPolicyIdentityTests
{
    [Fact]
    public void Full_policy_logits_are_bit_identical_to_the_plain_cache_on_a_gqa_model()
    {
        var (model, tokens) = FullCacheParity.RandomGqaModel(layers: 2, seed: 11, count: 80);
        using var _ = model;
        using var plain = new FullKvCache(model.Spec, 16);
        using var headwise = new HeadWiseKvCache(model.Spec, new FullPolicy(model.Spec), CompressMode.Chunked);
        // Two prefill chunks (the second with a mask over the first), then decode steps.
        int[] steps = [37, 23, .. Enumerable.Repeat(1, 20)];
        int start = 0;
        foreach (var t in steps)
        {
            using var ids = torch.tensor(tokens[start..(start + t)], [1, t]);
            using var a = model.Forward(ids, plain);
            using var b = model.Forward(ids, headwise);
            Assert.True(a.eq(b).all().item<bool>(), $"step at {start} (+{t}): max diff {(a - b).abs().max().item<float>()}");
            start += t;
        }
        Assert.Equal(plain.Bytes, headwise.Bytes);
    }

    [Fact]
    public void Generate_with_the_full_policy_equals_plain_generate_and_streaming_runs_on_stories260K()
    {
        using var model = LlamaCppParityTests.OpenGguf(TestPaths.Stories260KGguf);
        int[] prompt = [1, 400, 300, 500, 20, 30];
        var gen = new Generator(model) { PrefillChunk = 4 };
        var plain = gen.Generate(prompt, 40, new Sampler(0), eos: null);
        var full = gen.Generate(prompt, 40, new Sampler(0), eos: null, policy: new FullPolicy(model.Spec));
        Assert.Equal(plain, full);
        var streaming = gen.Generate(prompt, 40, new Sampler(0), eos: null, policy: KvPolicies.Create("streaming", KvBudget.Parse("16"), model.Spec));
        Assert.Equal(40, streaming.Count);
        // The first tokens come before anything is evicted (prompt + 9 < 16), so they match the full cache's.
        Assert.Equal(plain.Take(9), streaming.Take(9));
    }
}
