using HeadWise.Heads;
using HeadWise.KvCache;
using HeadWise.KvCache.Policies;
using HeadWise.Models;
using TorchSharp;
using static HeadWise.Tests.KvCache.KvTestCases;

namespace HeadWise.Tests.KvCache;

/// <summary>
/// Issue 23 (Stryker's uncovered mutants): what the caches refuse and how they count their memory, on shapes whose
/// answers follow from the arithmetic in their doc comments (float32: 4 bytes; K and V: x 2).
/// </summary>
public class CacheGuardTests
{
    private static string Error(Action a) => Assert.Throws<HeadWiseException>(a).Message;

    [Fact]
    public void Full_cache_allocates_by_doubling_counts_both_k_and_v_in_every_layer_and_refuses_past_its_limit()
    {
        var spec = Spec(layers: 2);   // 2 KV heads of 4
        using var cache = new FullKvCache(spec, initialCapacity: 4, maxLength: 9);
        Assert.Equal(0, cache.AllocatedBytes);
        using var k = torch.ones(1, 2, 3, HeadDim);
        for (int l = 0; l < 2; l++) cache.Append(l, k, k);
        cache.Advance(3);
        // 2 layers x (K and V) x 2 heads x 4 rows x 4 dims x 4 bytes; Bytes counts the 3 stored rows only.
        Assert.Equal(2 * 2 * 2 * 4 * 4 * 4, cache.AllocatedBytes);
        Assert.Equal(2 * 2 * 2 * 3 * 4 * 4, cache.Bytes);
        for (int l = 0; l < 2; l++) cache.Append(l, k, k);
        cache.Advance(3);
        Assert.Equal(2 * 2 * 2 * 8 * 4 * 4, cache.AllocatedBytes);   // 6 rows: the capacity doubled to 8
        using var four = torch.ones(1, 2, 4, HeadDim);
        Assert.Equal("context of 10 tokens exceeds the model's limit of 9", Error(() => cache.Append(0, four, four)));
        using var two = torch.ones(2, 2, 1, HeadDim);
        Assert.Equal("the KV cache holds one sequence (batch size 1)", Error(() => cache.Append(0, two, two)));
    }

    [Fact]
    public void Full_cache_truncates_to_any_length_it_holds_and_no_other()
    {
        var spec = Spec();
        using var cache = new FullKvCache(spec);
        using var k = torch.ones(1, 2, 3, HeadDim);
        cache.Append(0, k, k);
        cache.Advance(3);
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Truncate(4));
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Truncate(-1));
        cache.Truncate(3);
        Assert.Equal(3, cache.Length);
        cache.Truncate(1);
        Assert.Equal(1, cache.Length);
        cache.Truncate(0);
        Assert.Equal(0, cache.Length);
    }

    [Fact]
    public void Head_wise_cache_refuses_an_encoder_a_batch_and_hooks_on_scores_or_pattern()
    {
        var encoder = Spec() with { Architecture = "bert", Causal = false };
        var policy = KvPolicies.Create("h2o", KvBudget.Parse("4"), Spec());
        Assert.Equal("bert is an encoder: KV caches are for decoders", Error(() => new HeadWiseKvCache(encoder, policy, CompressMode.Chunked)));

        var spec = Spec();
        using var cache = new HeadWiseKvCache(spec, policy, CompressMode.Chunked);
        using var q2 = torch.ones(2, 2, 1, HeadDim);
        Assert.Equal("the head-wise KV cache holds one sequence (batch size 1)", Error(() => cache.Attend(0, q2, q2, q2)));

        var (q, k, v) = Step(spec, 0, 3, (_, _) => 0f);
        using var scale = 0.5.ToScalar();
        foreach (var point in new[] { "blocks.0.attn.hook_pattern", "blocks.0.attn.hook_attn_scores" })
        {
            var kernel = new AttentionKernel(spec, null, scale, new HookSet().Add(point, x => x), 0);
            Assert.Equal("blocks.0.attn.hook_attn_scores and blocks.0.attn.hook_pattern are not computed under a compressing KV cache policy " +
                         "(it attends over each head's kept positions in its own kernel); use the full cache to read or edit them",
                Error(() => ((IKvCache)cache).Attend(0, q, k, v, kernel)));
        }
        // A hook elsewhere is not refused, and the chunk is attended.
        var other = new AttentionKernel(spec, null, scale, new HookSet().Add("blocks.0.attn.hook_z", x => x), 0);
        using var z = ((IKvCache)cache).Attend(0, q, k, v, other);
        Assert.Equal(new long[] { 1, 2, 3, HeadDim }, z.shape);
    }

    [Fact]
    public void LongHeads_counts_its_chunk_representatives_and_refuses_score_hooks_once_it_selects()
    {
        var spec = Spec(layers: 2, heads: 2, kvHeads: 1);
        using var cache = new LongHeadsKvCache(new LongHeadsPolicy(spec, 4, 16)) { AlwaysSelect = false };
        using var scale = 0.5.ToScalar();
        torch.manual_seed(1);
        using var q = torch.randn(1, 2, 10, HeadDim);
        using var kv = torch.randn(1, 1, 10, HeadDim);
        var hooks = new HookSet().Add("blocks.1.attn.hook_pattern", x => x);
        for (int l = 0; l < 2; l++) cache.Attend(l, q, kv, kv, new AttentionKernel(spec, null, scale, hooks, 0)); // 10 <= 4 x 4: no selection yet
        cache.Advance(10);
        // The full store (2 layers x K and V x 1 KV head x 10 rows x 4 x 4 bytes) plus, per layer, one representative per
        // query head for each of the 2 completed chunks of 4 (2 x 2 x 4 floats).
        Assert.Equal(2 * 2 * 1 * 10 * 4 * 4 + 2 * (2 * 2 * 4 * 4), cache.Bytes);
        using var q1 = torch.randn(1, 2, 7, HeadDim);
        using var kv1 = torch.randn(1, 1, 7, HeadDim);
        cache.Attend(0, q1, kv1, kv1, new AttentionKernel(spec, null, scale, hooks, 10));   // layer 0 is not hooked
        Assert.Equal("blocks.1.attn.hook_attn_scores and blocks.1.attn.hook_pattern are not computed once longheads selects chunks " +
                     "(past its window of 16 tokens each head attends its own chunks in its own kernel)",
            Error(() => cache.Attend(1, q1, kv1, kv1, new AttentionKernel(spec, null, scale, hooks, 10))));
    }

    [Fact]
    public void A_budget_keeps_all_only_when_every_entry_is_the_whole_ratio()
    {
        Assert.True(KvBudget.Parse("1.0").KeepsAll);
        Assert.True(KvBudget.Parse("1.0,1.0;1.0,1.0").KeepsAll);
        Assert.False(KvBudget.Parse("1").KeepsAll);     // one token, not the whole ratio
        Assert.False(KvBudget.Parse("0.5").KeepsAll);
        Assert.False(KvBudget.Parse("1.0;0.5").KeepsAll);
        Assert.False(KvBudget.Parse("1.0,0.5;1.0,1.0").KeepsAll);
    }

    [Fact]
    public void Policy_constructors_refuse_what_their_declarations_would_not_parse()
    {
        var spec = Spec(layers: 4);
        Assert.Equal("delta: sinks must be >= 0, got -1", Error(() => new DeltaPolicy(spec, KvBudget.Parse("8"), 2, 1, -1, 0.25)));
        Assert.Equal("delta: recent fraction must be in [0, 1], got 1.5", Error(() => new DeltaPolicy(spec, KvBudget.Parse("8"), 2, 1, 4, 1.5)));
        Assert.Equal("delta: recent fraction must be in [0, 1], got -0.5", Error(() => new DeltaPolicy(spec, KvBudget.Parse("8"), 2, 1, 4, -0.5)));
        Assert.Equal(1.0, new DeltaPolicy(spec, KvBudget.Parse("8"), 2, 1, 0, 1).RecentFraction);
        Assert.Equal("longheads: chunk=0 must be >= 1", Error(() => new LongHeadsPolicy(spec, 0, 16)));
        var pattern = new HeadWise.Analysis.DuoPattern([[0.9, 0.1]], Sinks: 2, Recent: 4);
        Assert.Equal("duo: the pattern is 1 layers x 2 KV heads but the model has 4 x 2", Error(() => new DuoPolicy(spec, KvBudget.Parse("8"), pattern)));
        Assert.Equal("duo: threshold must be a number, got NaN", Error(() => new DuoPolicy(Spec(), KvBudget.Parse("8"), pattern, threshold: double.NaN)));
        Assert.Equal("duo reads the head score 'duo-gate': give an atlas (--atlas atlas.json or DuoAttention's full_attention_heads.tsv)",
            Error(() => KvPolicies.Create("duo", KvBudget.Parse("8"), spec)));
        Assert.Equal("taskkv reads the head score 'heterogeneity': give an atlas (--atlas atlas.json)",
            Error(() => KvPolicies.Create("taskkv", KvBudget.Parse("8"), spec)));
        Assert.Equal("headkv reads the head score 'retrieval-reasoning': give an atlas (--atlas atlas.json)",
            Error(() => KvPolicies.Create("headkv", KvBudget.Parse("8"), spec)));
    }

    [Fact]
    public void A_declaration_read_against_its_parameters_names_the_programming_error()
    {
        var d = new PolicyDeclaration("test", "Test", "a test policy",
            [PolicyParameter.OptionalInteger("w", "auto", "w"), PolicyParameter.OptionalNumber("f", "none", "f")], _ => null!);
        var args = new PolicyArguments(d, Spec(), KvBudget.Parse("8"), null, [], null);
        InvalidOperationException Throws(Func<object> read) => Assert.Throws<InvalidOperationException>(read);
        Assert.Equal("test: 'w' has no default; read it with OptionalInteger", Throws(() => args.Integer("w")).Message);
        Assert.Equal("test: 'f' has no default; read it with OptionalNumber", Throws(() => args.Number("f")).Message);
        Assert.Equal("test declares no 'scorer' parameter", Throws(() => args.Scorer()).Message);
        Assert.Equal("test reads parameter 'x' but does not declare it", Throws(() => args.Integer("x")).Message);
        Assert.Equal("test: parameter 'w' is declared Integer, read as Number", Throws(() => args.Number("w")).Message);
        Assert.Null(args.OptionalInteger("w"));
        Assert.Equal("test: a test policy", (d with { Parameters = [] }).Usage);
        Assert.Equal("full: every position (the baseline every policy is compared with)", KvPolicies.Declaration("full").Usage);
    }

    [Fact]
    public void Head_scores_name_a_missing_file_and_an_empty_atlas()
    {
        var missing = Path.Combine(TestPaths.NewTempDir(), "nope.json");
        Assert.Equal($"{missing}: head scores file not found", Error(() => HeadScores.Load(missing)));
        var empty = new HeadScores("empty.json", []);
        Assert.Equal("duo needs the head score 'duo-gate' but empty.json has only: none", Error(() => empty.PerKvHead("duo-gate", Spec(), "duo")));
    }
}
