using HeadWise.KvCache;
using HeadWise.KvCache.Policies;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;
using HeadWise.Tests.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.KvCache;

/// <summary>DELTA: full layers, Δ-layers that select by attention, sparse layers that attend the selection; the full cache is kept.</summary>
public class DeltaTests
{
    private const int D = 4;

    [Fact]
    public void Sparse_layers_attend_the_sinks_the_recent_and_what_the_delta_layer_attended_most_not_their_own_favourites()
    {
        // Layer 0 full, layer 1 the Δ-layer, layer 2 sparse. Every query is u; the Δ-layer's keys are 10u at 5 and 9
        // (so its heads attend those most), the sparse layer's own keys are 10u at 12 and 14 (what it would attend if
        // it could). Budget 4 = 1 sink + 1 recent (0.25) + 2 selected: at position 19 the sparse layer attends exactly
        // {0, 5, 9, 19}, where its keys are all 0, so its output is the mean of those four values.
        var spec = new ModelSpec
        {
            Architecture = "llama", Layers = 3, Dim = 2 * D, Heads = 2, KvHeads = 1, HeadDim = D, FfnDim = 8, VocabSize = 16,
            ContextLength = 64, Positions = PositionKind.Learned,
        };
        var policy = (DeltaPolicy)KvPolicies.Create("delta", KvBudget.Parse("4"), spec, parameters: "full=1,every=4,sinks=1,recent=0.25");
        using var cache = (DeltaKvCache)policy.CreateCache(CompressMode.Context);
        const int n = 20;
        var u = torch.zeros(D); u[0] = 1;
        var q = u.expand(1, 2, n, D).contiguous();
        var keys = new Tensor[3];
        for (int l = 0; l < 3; l++)
        {
            keys[l] = torch.zeros(1, 1, n, D);
            int[] heavy = l == 1 ? [5, 9] : l == 2 ? [12, 14] : [];
            foreach (int p in heavy) keys[l][0, 0, p] = u * 10;
        }
        torch.manual_seed(7);
        var values = Enumerable.Range(0, 3).Select(_ => torch.randn(1, 1, n, D)).ToArray();
        using var scale = (1.0 / Math.Sqrt(D)).ToScalar();
        Tensor last = null!;
        for (int start = 0; start < n;)
        {
            int t = start == 0 ? 12 : 1;
            var kernel = new AttentionKernel(spec, null, scale, null, start);
            for (int l = 0; l < 3; l++)
            {
                var z = cache.Attend(l, q.narrow(2, start, t), keys[l].narrow(2, start, t), values[l].narrow(2, start, t), kernel);
                if (l == 2) last = z;
            }
            cache.Advance(t);
            start += t;
        }
        var expected = values[2][0, 0].index_select(0, torch.tensor(new long[] { 0, 5, 9, 19 })).mean([0]);
        for (int h = 0; h < 2; h++)
            Assert.True(torch.allclose(last[0, h, 0], expected, 1e-5, 1e-6), $"head {h}: {last[0, h, 0].str()} vs {expected.str()}");
        Assert.Equal(3L * 1 * n * D * 2 * sizeof(float), cache.Bytes); // the full cache: 3 layers, 1 KV head, 20 positions, K and V
    }

    [Fact]
    public void Selecting_everything_equals_full_attention_on_a_gqa_model()
    {
        var (model, tokens) = FullCacheParity.RandomGqaModel(layers: 4, seed: 8, count: 120);
        using var _ = model;
        // Layers 0 and 1 full, 2 the Δ-layer, 3 sparse with a budget of everything.
        using var delta = KvPolicies.Create("delta", KvBudget.All, model.Spec).CreateCache(CompressMode.Context);
        long fullBytes = FullCacheParity.AssertFollowsFull(model, tokens, [70, 30, .. Enumerable.Repeat(1, 18)], delta);
        Assert.Equal(fullBytes, delta.Bytes);
        Assert.Equal(1.0, (double)((IAttendedShare)delta).AttendedKeys / ((IAttendedShare)delta).AvailableKeys);
    }

    [Fact]
    public void A_ratio_budget_is_the_share_the_sparse_layers_attend()
    {
        var path = RandomLlamaGguf.Write(Path.Combine(TestPaths.NewTempDir(), "random.gguf"), new RandomLlamaConfig(Layers: 4, Vocab: 300, Context: 256));
        using var model = LlamaCppParityTests.OpenGguf(path);
        var rng = new Random(9);
        var tokens = Enumerable.Range(0, 200).Select(_ => (long)rng.Next(3, 300)).ToArray();
        using var delta = KvPolicies.Create("delta", KvBudget.Parse("0.25"), model.Spec).CreateCache(CompressMode.Context);
        using var full = new FullKvCache(model.Spec);
        using var ids = torch.tensor(tokens, [1, 200]);
        using var a = model.Forward(ids, full);
        using var b = model.Forward(ids, delta);
        var share = (IAttendedShare)delta;
        double attended = (double)share.AttendedKeys / share.AvailableKeys;
        // ceil(0.25 x visible) per query: a little over a quarter.
        Assert.InRange(attended, 0.25, 0.26);
        Assert.False(torch.allclose(a, b, 1e-3, 1e-3)); // the sparse layer really attends less
    }

    [Theory]
    [InlineData("full=3", "full=3 and every=4 need full >= 0, every >= 1 and full + 2 <= 4")]
    [InlineData("every=0", "every=0 must be >= 1")]
    [InlineData("recent=2", "recent=2 must be in [0, 1]")]
    [InlineData("select=1", "delta has no parameter select; valid keys: full=2")]
    public void Bad_parameters_are_one_clear_error(string parameters, string message)
    {
        var spec = new ModelSpec { Architecture = "llama", Layers = 4, Dim = 8, Heads = 2, KvHeads = 2, HeadDim = 4, FfnDim = 8, VocabSize = 16, ContextLength = 256 };
        var e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("delta", KvBudget.Parse("0.3"), spec, parameters: parameters));
        Assert.Contains(message, e.Message);
    }
}
