using HeadWise.Analysis;

namespace HeadWise.Tests.Analysis;

/// <summary>
/// Atlas and DuoAttention pattern files, score lists and rank agreement at their edges (issue 23: what Stryker's
/// boundary and message mutants change): each bad input is one error naming the problem; edge values that are valid load.
/// </summary>
public class AnalysisInputTests
{
    private static string Write(string name, string text)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string Atlas(string fields) => Write("atlas.json", "{" + fields + "}");

    private const string Shape = "\"model\":\"m\",\"layers\":2,\"heads\":4,\"kv_heads\":2";

    [Fact]
    public void An_atlas_file_loads_its_fields_and_scores()
    {
        var atlas = HeadAtlas.Load(Atlas(Shape + ",\"scores\":{\"a\":[[0,1,2,3],[4,5,6,-7.5]]},\"params\":{\"a\":{\"k\":1}}"));
        Assert.Equal(("m", 2, 4, 2), (atlas.Model, atlas.Layers, atlas.Heads, atlas.KvHeads));
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, -7.5], atlas.Scores["a"].SelectMany(r => r));
        Assert.Equal(1, atlas["a"].Params!["k"]!.GetValue<int>());
        // kv_heads equal to heads, and a null params field, are fine.
        Assert.Equal(4, HeadAtlas.Load(Atlas("\"model\":\"m\",\"layers\":1,\"heads\":4,\"kv_heads\":4,\"scores\":{},\"params\":null")).KvHeads);
    }

    [Theory]
    [InlineData("[1,2]", "expected a JSON object at the top")]
    [InlineData("{\"model\":3,\"layers\":2,\"heads\":4,\"kv_heads\":2,\"scores\":{}}", "field 'model' must be a string")]
    [InlineData("{\"model\":\"m\",\"layers\":0,\"heads\":4,\"kv_heads\":2,\"scores\":{}}", "field 'layers' must be a positive integer")]
    [InlineData("{\"model\":\"m\",\"layers\":2,\"heads\":\"4\",\"kv_heads\":2,\"scores\":{}}", "field 'heads' must be a positive integer")]
    [InlineData("{\"model\":\"m\",\"layers\":2,\"heads\":4,\"kv_heads\":2.5,\"scores\":{}}", "field 'kv_heads' must be a positive integer")]
    [InlineData("{\"model\":\"m\",\"layers\":2,\"heads\":4,\"kv_heads\":3,\"scores\":{}}", "kv_heads 3 must divide heads 4")]
    [InlineData("{\"model\":\"m\",\"layers\":2,\"heads\":4,\"kv_heads\":8,\"scores\":{}}", "kv_heads 8 must divide heads 4")]
    [InlineData("{\"model\":\"m\",\"layers\":2,\"heads\":4,\"kv_heads\":2}", "field 'scores' must be an object of layers x heads arrays")]
    [InlineData("{\"model\":\"m\",\"layers\":2,\"heads\":4,\"kv_heads\":2,\"scores\":{\"a\":[[0,1,2,3]]}}", "score 'a' must be 2 rows of 4 numbers, all finite")]
    [InlineData("{\"model\":\"m\",\"layers\":2,\"heads\":4,\"kv_heads\":2,\"scores\":{\"a\":[[0,1,2,3],[0,1,2]]}}", "score 'a' must be 2 rows of 4 numbers")]
    [InlineData("{\"model\":\"m\",\"layers\":2,\"heads\":4,\"kv_heads\":2,\"scores\":{\"a\":[[0,1,2,3],[0,1,\"x\",3]]}}", "score 'a' must be 2 rows of 4 numbers")]
    [InlineData("{\"model\":\"m\",\"layers\":2,\"heads\":4,\"kv_heads\":2,\"scores\":{\"a\":[[0,1,2,3],[0,1,2,3]],\"a\":[[0,1,2,3],[0,1,2,3]]}}", "score 'a' appears twice")]
    [InlineData("{\"model\":\"m\",\"layers\":2,\"heads\":4,\"kv_heads\":2,\"scores\":{},\"params\":{\"p\":1,\"p\":2}}", "field 'params' has a duplicate name")]
    [InlineData("{\"model\":\"m\",\"layers\":2,\"heads\":4,\"kv_heads\":2,\"scores\":{},\"params\":{\"a\":[{\"k\":1,\"k\":2}]}}", "field 'params' has a duplicate name")]
    public void A_bad_atlas_file_is_one_error_naming_the_field(string json, string message)
    {
        var path = Write("atlas.json", json);
        Assert.Equal($"{path}: {message}", Assert.Throws<HeadWiseException>(() => HeadAtlas.Load(path)).Message[..(path.Length + 2 + message.Length)]);
    }

    [Fact]
    public void An_atlas_refuses_a_map_of_another_shape_and_names_its_scores_when_one_is_missing()
    {
        var atlas = new HeadAtlas { Model = "m", Layers = 2, Heads = 2, KvHeads = 1 };
        atlas.Add(new HeadMap("a", [[1, 2], [3, 4]]));
        atlas.Add(new HeadMap("b", [[1, 2], [3, 4]]));
        Assert.Equal("score 'c' is 2 x 3 but the atlas is 2 layers x 2 heads",
            Assert.Throws<HeadWiseException>(() => atlas.Add(new HeadMap("c", [[1, 2, 3], [4, 5, 6]]))).Message);
        Assert.Equal("score 'c' is 1 x 2 but the atlas is 2 layers x 2 heads",
            Assert.Throws<HeadWiseException>(() => atlas.Add(new HeadMap("c", [[1, 2]]))).Message);
        Assert.Equal("the atlas has no score 'c'; it has: a, b", Assert.Throws<HeadWiseException>(() => atlas["c"]).Message);
    }

    [Fact]
    public void Spearman_ranks_ties_by_their_mean_and_needs_two_equal_length_lists()
    {
        Assert.Equal([1, 2.5, 2.5, 4], RankAgreement.Ranks([1, 2, 2, 3]));
        Assert.Equal([3, 1.5, 1.5], RankAgreement.Ranks([9, 5, 5]));
        // Ranks (1, 2.5, 2.5, 4) against (1, 2, 3, 4): sum of products of deviations 4.5, variances 4.5 and 5.
        Assert.Equal(4.5 / Math.Sqrt(4.5 * 5), RankAgreement.Spearman([1, 2, 2, 3], [1, 2, 3, 4]), 12);
        Assert.True(double.IsNaN(RankAgreement.Spearman([1, 1, 1], [1, 2, 3])));
        Assert.True(double.IsNaN(RankAgreement.Spearman([1, 2, 3], [7, 7, 7])));
        Assert.Equal(1.0, RankAgreement.Spearman([1, 2], [3, 4]), 12);
        Assert.Equal("Spearman needs two equal-length lists of at least 2 values (got 1 and 1)",
            Assert.Throws<HeadWiseException>(() => RankAgreement.Spearman([1], [1])).Message);
        Assert.Equal("Spearman needs two equal-length lists of at least 2 values (got 3 and 2)",
            Assert.Throws<HeadWiseException>(() => RankAgreement.Spearman([1, 2, 3], [1, 2])).Message);
    }

    [Fact]
    public void A_score_list_names_known_scores_and_parameters_only_where_a_score_takes_them()
    {
        Assert.Equal(ScoreRegistry.Names, ScoreRegistry.Parse(null).Select(s => s.Name));
        Assert.Equal(ScoreRegistry.Names, ScoreRegistry.Parse(" all ").Select(s => s.Name));
        Assert.Equal(["sink", "entropy"], ScoreRegistry.Parse(" entropy , sink ,").Select(s => s.Name)); // table order
        var e = Assert.Throws<HeadWiseException>(() => ScoreRegistry.Parse("sink,typo,other"));
        Assert.Equal($"unknown score(s) typo, other; valid: {string.Join(", ", ScoreRegistry.Names)}", e.Message);
        e = Assert.Throws<HeadWiseException>(() => ScoreRegistry.Parse("sink", new Dictionary<string, string> { ["nope"] = "a=1" }));
        Assert.StartsWith("unknown score(s) nope;", e.Message);
        e = Assert.Throws<HeadWiseException>(() => ScoreRegistry.Parse("sink", new Dictionary<string, string> { ["sink"] = "a=1" }));
        Assert.Equal("score sink takes no parameters (got 'a=1')", e.Message);
        Assert.Single(ScoreRegistry.Parse("sink", new Dictionary<string, string> { ["sink"] = " " }));
    }

    [Fact]
    public void A_duo_pattern_file_is_clipped_to_0_1_and_its_config_supplies_sinks_and_recent()
    {
        var tsv = Write("full_attention_heads.tsv", "0.5\t1.5\n\n-2\t0.25\n");
        var p = DuoPattern.Read(tsv);
        Assert.Equal([0.5, 1, 0, 0.25], p.Gates.SelectMany(r => r));
        Assert.Equal((DuoPattern.PaperSinks, DuoPattern.PaperRecent), (p.Sinks, p.Recent)); // no config beside it
        var config = Path.Combine(Path.GetDirectoryName(tsv)!, "config.json");
        File.WriteAllText(config, "{\"sink_size\":0,\"recent_size\":1}");
        Assert.Equal((0, 1), (DuoPattern.Read(tsv).Sinks, DuoPattern.Read(tsv).Recent));
        File.WriteAllText(config, "{\"sink_size\":-1,\"recent_size\":1}");
        Assert.Equal($"{config}: 'sink_size' must be an integer >= 0", Assert.Throws<HeadWiseException>(() => DuoPattern.Read(tsv)).Message);
        File.WriteAllText(config, "{\"sink_size\":4,\"recent_size\":0}");
        Assert.Equal($"{config}: 'recent_size' must be an integer >= 1", Assert.Throws<HeadWiseException>(() => DuoPattern.Read(tsv)).Message);
        File.WriteAllText(config, "{\"other\":1}"); // not a pattern config: the paper's values
        Assert.Equal(DuoPattern.PaperSinks, DuoPattern.Read(tsv).Sinks);
    }

    [Theory]
    [InlineData("", "empty; expected one line per layer of tab-separated gate values")]
    [InlineData("0.5\t0.5\n0.5\tx\n", "line 2, column 2: 'x' is not a number")]
    [InlineData("0.5\tNaN\n", "line 1, column 2: 'NaN' is not a number")]
    [InlineData("0.5\t0.5\n0.5\n", "line 2 has 1 values but line 1 has 2 (one per KV head)")]
    public void A_bad_duo_pattern_file_names_the_line_and_column(string text, string message)
    {
        var tsv = Write("full_attention_heads.tsv", text);
        Assert.Equal($"{tsv}: {message}", Assert.Throws<HeadWiseException>(() => DuoPattern.Read(tsv)).Message);
    }

    [Fact]
    public void Duo_sparsity_runs_from_zero_to_one()
    {
        var p = new DuoPattern([[0.1, 0.9], [0.5, 0.3]], 4, 8);
        Assert.All(p.FullBySparsity(0).SelectMany(r => r), Assert.True);
        Assert.All(p.FullBySparsity(1).SelectMany(r => r), Assert.False);
        Assert.Equal("duo: sparsity must be in [0, 1], got 1.5", Assert.Throws<HeadWiseException>(() => p.FullBySparsity(1.5)).Message);
        Assert.Equal("duo: sparsity must be in [0, 1], got -0.5", Assert.Throws<HeadWiseException>(() => p.FullBySparsity(-0.5)).Message);
        Assert.Contains("got NaN", Assert.Throws<HeadWiseException>(() => p.FullBySparsity(double.NaN)).Message);
        // Ranked: lowest gate first, ties by layer then head.
        Assert.Equal([(0, 0), (1, 1), (1, 0), (0, 1)], new DuoPattern([[0.1, 0.9], [0.5, 0.5 - 0.2]], 4, 8).Ranked());
        Assert.Equal([(0, 1), (1, 0), (1, 1), (0, 0)], new DuoPattern([[0.7, 0.2], [0.2, 0.2]], 4, 8).Ranked());
    }
}
