using HeadWise.KvCache;
using static HeadWise.Tests.KvCache.KvTestCases;

namespace HeadWise.Tests.KvCache;

/// <summary>Bad budgets, mismatched score files and missing scores each give a clear error.</summary>
public class KvInputErrorTests
{
    [Theory]
    [InlineData("0", "token count and must be >= 1")]
    [InlineData("0.0", "ratio and must be in (0, 1]")]
    [InlineData("1.5", "ratio and must be in (0, 1]")]
    [InlineData("-0.2", "ratio and must be in (0, 1]")]
    [InlineData("abc", "is not a number")]
    [InlineData("", "empty")]
    public void Budgets_outside_the_valid_range_are_rejected(string text, string message)
    {
        var e = Assert.Throws<HeadWiseException>(() => KvBudget.Parse(text));
        Assert.Contains(message, e.Message);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(-0.1)]
    [InlineData(double.NaN)]
    public void Compression_ratios_outside_zero_one_are_rejected(double ratio)
    {
        var e = Assert.Throws<HeadWiseException>(() => KvBudget.FromCompressionRatio(ratio));
        Assert.Contains("is outside [0, 1): it is the fraction of the tokens removed", e.Message);
    }

    [Fact]
    public void A_compression_ratio_is_one_minus_the_budget_and_compress_modes_parse()
    {
        Assert.Equal("0.25", KvBudget.FromCompressionRatio(0.75).Text);
        Assert.Equal("0.3", KvBudget.FromCompressionRatio(0.7).Text);
        Assert.Equal("1.0", KvBudget.FromCompressionRatio(0).Text);
        Assert.Equal(CompressMode.Question, CompressModes.Parse("Question"));
        var e = Assert.Throws<HeadWiseException>(() => CompressModes.Parse("later"));
        Assert.Contains("--compress 'later' is not a compression point; valid choices: context, question, chunked", e.Message);
    }

    [Fact]
    public void Budget_values_resolve_as_ratio_or_tokens_per_layer_and_head()
    {
        var spec = Spec(layers: 2);
        Assert.Equal(25, KvBudget.Parse("0.25").Tokens(0, 0, 100));
        Assert.Equal(512, KvBudget.Parse("512").Tokens(1, 1, 4096));
        Assert.Equal(100, KvBudget.Parse("512").Tokens(1, 1, 100)); // never more than the sequence
        var perLayer = KvBudget.Parse("0.5,8").Validate(spec);
        Assert.Equal((50L, 8L), (perLayer.Tokens(0, 1, 100), perLayer.Tokens(1, 0, 100)));
        var perHead = KvBudget.Parse("1,2;3,4").Validate(spec);
        Assert.Equal(3, perHead.Tokens(1, 0, 100));
        var e = Assert.Throws<HeadWiseException>(() => KvBudget.Parse("1,2,3").Validate(spec));
        Assert.Contains("3 layers but the model has 2", e.Message);
        e = Assert.Throws<HeadWiseException>(() => KvBudget.Parse("1,2,3;1,2,3").Validate(spec));
        Assert.Contains("3 heads but the model has 2 KV heads", e.Message);
    }

    [Fact]
    public void A_tsv_pattern_of_the_wrong_shape_names_both_shapes()
    {
        var spec = Spec(layers: 2);
        var tsv = Path.Combine(TestPaths.NewTempDir(), "full_attention_heads.tsv");
        File.WriteAllText(tsv, "1\t0\t1\n0\t1\t0\n");
        var e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("duo", KvBudget.Parse("8"), spec, HeadScores.Load(tsv)));
        Assert.Contains("2 layers x 3 heads", e.Message);
        Assert.Contains("model has 2 layers x 2 heads (2 KV heads)", e.Message);
    }

    [Fact]
    public void A_policy_needing_a_score_the_atlas_lacks_names_it()
    {
        var spec = Spec();
        var dir = TestPaths.NewTempDir();
        var path = Path.Combine(dir, "atlas.json");
        File.WriteAllText(path, """{"model":"x","layers":1,"heads":2,"kv_heads":2,"scores":{"sinks":[[0.1,0.2]]},"params":{}}""");
        var e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("headkv", KvBudget.Parse("8"), spec, HeadScores.Load(path)));
        Assert.Contains("headkv needs the head score 'retrieval-reasoning'", e.Message);
        Assert.Contains("sinks", e.Message);
        e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("taskkv", KvBudget.Parse("8"), spec));
        Assert.Contains("give an atlas", e.Message);
    }

    [Fact]
    public void Unknown_policies_and_parameters_are_rejected_with_the_known_names()
    {
        var spec = Spec();
        var e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("lru", KvBudget.Parse("8"), spec));
        Assert.Contains("unknown KV policy 'lru'", e.Message);
        Assert.Contains("streaming", e.Message);
        // Unknown keys name the valid ones with their defaults, from the declaration; an allocation also takes its scorer's.
        e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("streaming", KvBudget.Parse("8"), spec, parameters: "sink=3"));
        Assert.Contains("streaming has no parameter sink; valid keys: sinks=4 (", e.Message);
        e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("pyramidkv", KvBudget.Parse("8"), spec, parameters: "recent=0.3"));
        Assert.Contains("valid keys: beta=20 (", e.Message);
        Assert.Contains("window=32 (", e.Message);
        e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("adakv", KvBudget.Parse("8"), spec, parameters: "scorer=duo"));
        Assert.Contains("scorer=duo is not a policy that scores positions; valid scorers: streaming, h2o, snapkv", e.Message);
        Assert.Equal(0.3, ((HeadWise.KvCache.Policies.H2oPolicy)((AllocationPolicy)KvPolicies.Create("pyramidkv", KvBudget.Parse("8"), spec, parameters: "scorer=h2o,recent=0.3")).Scorer).RecentFraction);
        e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("full", KvBudget.Parse("8"), spec, parameters: "sinks=3"));
        Assert.Contains("full has no parameter sinks; it takes none", e.Message);
        // Values out of their declared range, or of the wrong kind, name the range and the default.
        e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("streaming", KvBudget.Parse("8"), spec, parameters: "sinks=-1"));
        Assert.Contains("streaming: sinks=-1 must be >= 0", e.Message);
        e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("h2o", KvBudget.Parse("8"), spec, parameters: "recent=half"));
        Assert.Contains("h2o: recent=half is not a number", e.Message);
        e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("snapkv", KvBudget.Parse("8"), spec, parameters: "kernel=4"));
        Assert.Contains("kernel=4 must be odd", e.Message);
        // A parameter with a fixed set of values names them (declared once, as the help shows them).
        e = Assert.Throws<HeadWiseException>(() => KvPolicies.Create("snapkv", KvBudget.Parse("8"), spec, parameters: "pooling=mean"));
        Assert.Contains("snapkv: pooling=mean is not a valid choice; valid choices: max, avg", e.Message);
        Assert.Contains("pooling=max (", SnapKvDeclarationUsage());
        Assert.Contains("one of max, avg", SnapKvDeclarationUsage());
    }

    private static string SnapKvDeclarationUsage() => HeadWise.KvCache.Policies.SnapKvPolicy.Declaration.Usage;
}

/// <summary>The atlas reader: query-head scores reduce over each KV group.</summary>
public class HeadScoresTests
{
    [Fact]
    public void Query_head_scores_reduce_over_kv_groups_and_duo_takes_the_max()
    {
        var spec = Spec(layers: 1, heads: 4, kvHeads: 2);
        var path = Path.Combine(TestPaths.NewTempDir(), "atlas.json");
        File.WriteAllText(path, """{"model":"x","layers":1,"heads":4,"kv_heads":2,"scores":{"duo-gate":[[0.1,0.7,0.2,0.3]]},"params":{}}""");
        var atlas = HeadScores.Load(path);
        Assert.Equal(new[] { 0.4, 0.25 }, atlas.PerKvHead("duo-gate", spec, "test")[0].Select(x => Math.Round(x, 6)));
        var duo = (HeadWise.KvCache.Policies.DuoPolicy)KvPolicies.Create("duo", KvBudget.Parse("8"), spec, atlas, "threshold=0.5");
        Assert.True(duo.IsFull(0, 0));   // max(0.1, 0.7) >= 0.5
        Assert.False(duo.IsFull(0, 1));  // max(0.2, 0.3) < 0.5
        Assert.Equal((64, 256), (duo.Sinks, duo.Recent)); // an atlas without the pattern: DuoAttention's defaults
    }
}
