using HeadWise.KvCache;
using HeadWise.KvCache.Policies;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.KvCache;

/// <summary>
/// `streaming positions=cache`, StreamingLLM's own position rule (positions within the cache): checked on one layer
/// whose keys, values and queries are given, so the expected attention is computed by hand from the tokens kept.
/// </summary>
public class StreamingPositionsInCacheTests
{
    private const int D = 4, N = 20;

    /// <summary>Two query heads on one KV head, head size 4, a context of 8 tokens, rotary positions.</summary>
    private static readonly ModelSpec Spec = new()
    {
        Architecture = "llama", Layers = 1, Dim = 2 * D, Heads = 2, KvHeads = 1, HeadDim = D, FfnDim = 8, VocabSize = 16,
        ContextLength = 8, Positions = PositionKind.Rope,
    };

    // Shared by the tests, which xunit runs one at a time within a class.
    private static readonly Rope RotaryTables = new(Spec, Spec.ContextLength);
    private static readonly Scalar Scale = (1.0 / Math.Sqrt(D)).ToScalar();

    /// <summary>Unrotated keys [1, 1, N, d], values [1, 1, N, d] and queries [1, 2, N, d], random from a fixed seed.</summary>
    private static (Tensor K, Tensor V, Tensor Q) Tokens()
    {
        torch.manual_seed(11);
        return (torch.randn(1, 1, N, D), torch.randn(1, 1, N, D), torch.randn(1, 2, N, D));
    }

    private static StreamingKvCache Cache(string budget) =>
        (StreamingKvCache)new StreamingPolicy(Spec, KvBudget.Parse(budget), sinks: 2, positionsInCache: true).CreateCache(CompressMode.Context);

    /// <summary>softmax(q k / sqrt(d)) v per head, keys and the query already rotated: [2, d].</summary>
    private static Tensor ByHand(Tensor keys, Tensor values, Tensor query) =>
        torch.matmul(torch.softmax(torch.matmul(query[0, .., 0], keys[0, 0].t()) / Math.Sqrt(D), -1), values[0, 0]);

    [Fact]
    public void Token_by_token_each_query_sees_the_sinks_and_the_recent_tokens_at_their_places_in_the_cache()
    {
        var (kRaw, v, qRaw) = Tokens();
        var (rope, scale) = (RotaryTables, Scale);
        using var cache = Cache("5");
        // The model hands the cache keys and queries rotated at their positions in the text, 0..19 (past the context of 8).
        var kText = rope.Apply(kRaw, 0);
        var qText = rope.Apply(qRaw, 0);
        Tensor last = null!;
        for (int p = 0; p < N; p++)
        {
            last = cache.Attend(0, qText.narrow(2, p, 1), kText.narrow(2, p, 1), v.narrow(2, p, 1), new AttentionKernel(Spec, rope, scale, null, p));
            cache.Advance(1);
        }
        // Before token 19 the cache holds the 2 sinks and the 3 most recent: tokens 0, 1, 16, 17, 18. The paper places
        // them at positions 0..4 and token 19 at 5.
        using var kept = torch.tensor(new long[] { 0, 1, 16, 17, 18, 19 });
        var expected = ByHand(rope.Apply(kRaw.index_select(2, kept), 0), v.index_select(2, kept), rope.Apply(qRaw.narrow(2, 19, 1), 5));
        Assert.True(torch.allclose(last[0, .., 0], expected, 1e-5, 1e-5), $"{last[0, .., 0].str()} vs {expected.str()}");
        // Attended at its text position (19) instead, the same tokens give another answer: the check can tell them apart.
        var atText = ByHand(kText.index_select(2, kept), v.index_select(2, kept), qText.narrow(2, 19, 1));
        Assert.False(torch.allclose(atText, expected, 1e-3, 1e-3));
        // Memory stays at the budget: 5 rows of keys and of values, float32.
        Assert.Equal(5L * D * 2 * 4, cache.Bytes);
        Assert.Equal(N, cache.Length);
    }

    [Fact]
    public void Within_the_context_and_under_the_budget_it_is_plain_causal_attention()
    {
        var (kRaw, v, qRaw) = Tokens();
        var (rope, scale) = (RotaryTables, Scale);
        using var cache = Cache("8");   // capacity: min(8, context - 1) = 7 >= the 6 tokens
        var k = rope.Apply(kRaw.narrow(2, 0, 6), 0);
        var q = rope.Apply(qRaw.narrow(2, 0, 6), 0);
        var kernel = new AttentionKernel(Spec, rope, scale, null, 0);
        var output = cache.Attend(0, q, k, v.narrow(2, 0, 6), kernel);
        var plain = kernel.Attend(0, q, k, v.narrow(2, 0, 6));
        Assert.True(torch.allclose(output, plain, 1e-5, 1e-5));
    }

    [Fact]
    public void A_prefill_past_the_context_is_attended_in_blocks_that_fit_the_window()
    {
        var (kRaw, v, qRaw) = Tokens();
        var (rope, scale) = (RotaryTables, Scale);
        using var cache = Cache("5");
        var output = cache.Attend(0, rope.Apply(qRaw, 0), rope.Apply(kRaw, 0), v, new AttentionKernel(Spec, rope, scale, null, 0));
        cache.Advance(N);
        Assert.Equal(new long[] { 1, 2, N, D }, output.shape);
        // Blocks 0..7, then 5 kept + 3 new each: at most the context (8 rows) ever held, 5 kept after.
        Assert.Equal(8L * D * 2 * 4, cache.PeakBytes);
        Assert.Equal(5L * D * 2 * 4, cache.Bytes);
        // The first block is plain causal attention over tokens 0..7.
        var first = new AttentionKernel(Spec, rope, scale, null, 0).Attend(0, rope.Apply(qRaw.narrow(2, 0, 8), 0), rope.Apply(kRaw.narrow(2, 0, 8), 0), v.narrow(2, 0, 8));
        Assert.True(torch.allclose(output.narrow(2, 0, 8), first, 1e-5, 1e-5));
    }

    [Fact]
    public void Only_positions_in_the_cache_run_past_the_context_and_only_on_rotary_models()
    {
        var original = KvPolicies.Create("streaming", KvBudget.Parse("5"), Spec);
        var inCache = KvPolicies.Create("streaming", KvBudget.Parse("5"), Spec, parameters: "positions=cache");
        Assert.Equal(Spec.ContextLength, original.LengthLimit);
        Assert.Equal(int.MaxValue, inCache.LengthLimit);
        using (var c = inCache.CreateCache(CompressMode.Chunked)) Assert.IsType<StreamingKvCache>(c);
        using (var c = original.CreateCache(CompressMode.Chunked)) Assert.IsType<HeadWiseKvCache>(c);
        var learned = KvPolicies.Create("streaming", KvBudget.Parse("5"), Spec with { Positions = PositionKind.Learned }, parameters: "positions=cache");
        Assert.Equal(Spec.ContextLength, learned.LengthLimit);
        var e = Assert.Throws<HeadWiseException>(() => learned.CreateCache(CompressMode.Chunked));
        Assert.Contains("learned, not rotary", e.Message);
    }
}
