using System.Text.Json.Nodes;
using HeadWise.Analysis;
using HeadWise.Analysis.Scores;
using HeadWise.Tokenizers;
using TorchSharp;

namespace HeadWise.Tests.Analysis;

/// <summary>
/// Issue 23 (Stryker's Analysis survivors): the small rules the scores are built from, each on a case small enough to
/// work out by hand: needle membership at both ends, average-linkage clustering, top-k sparsification, ranking ties,
/// multiple-choice distractors, score lists with repeats, atlas files, DuoAttention's training record and keys, and
/// probe sets from a vocabulary without BOS.
/// </summary>
public class AnalysisHelperEdgeTests
{
    private static string Error(Action a) => Assert.Throws<HeadWiseException>(a).Message;

    [Fact]
    public void A_needle_holds_its_first_and_last_position_and_nothing_either_side()
    {
        var p = new NeedlePrompt([1, 9, 9, 5, 6, 7, 9, 5], NeedleStart: 3, Needle: [5, 6, 7], Answer: [6, 7]);
        Assert.Equal([false, false, false, true, true, true, false, false], Enumerable.Range(0, 8).Select(i => p.InNeedle(i)));
        Assert.True(RetrievalScore.CopiesFromNeedle(p, 3, 5));    // the needle's first token
        Assert.False(RetrievalScore.CopiesFromNeedle(p, 2, 9));   // the token before it
        Assert.False(RetrievalScore.CopiesFromNeedle(p, 6, 9));   // the token after it
    }

    [Fact]
    public void Clustering_merges_the_most_similar_pair_while_the_mean_similarity_reaches_the_threshold()
    {
        // 0-2 merge first (0.95); {0, 2} against 1 averages (0.85 + 0.85) / 2 = 0.85: merged at a threshold of 0.85 (reached), not above.
        var sim = new double[,] { { 1, 0.85, 0.95 }, { 0.85, 1, 0.85 }, { 0.95, 0.85, 1 } };
        Assert.Equal([[0, 1, 2]], SimilarityScore.Cluster(sim, 3, 0.85));     // members sorted, not in merge order (0, 2, 1)
        Assert.Equal([[0, 2], [1]], SimilarityScore.Cluster(sim, 3, 0.86));   // clusters ordered by their first member
        // A tie between (0, 1) and (1, 2): the first pair in order merges, after which neither joins the third (mean 0.45).
        var tie = new double[,] { { 1, 0.9, 0 }, { 0.9, 1, 0.9 }, { 0, 0.9, 1 } };
        Assert.Equal([[0, 1], [2]], SimilarityScore.Cluster(tie, 3, 0.6));
        Assert.Equal([[0], [1], [2]], SimilarityScore.Cluster(tie, 3, 0.95));
    }

    [Fact]
    public void Sparsification_keeps_the_k_largest_of_each_row_renormalised()
    {
        using var p = torch.tensor(new[] { 0.1f, 0.4f, 0.2f, 0.3f, 0, 0, 0, 0 }, [2, 4]);
        using var two = SensitivityScore.Sparsify(p, 2);
        var expected = new[] { 0, 0.4 / 0.7, 0, 0.3 / 0.7, 0, 0, 0, 0 };   // an all-zero row stays zero (no division by 0)
        var got = two.data<float>().ToArray();
        for (int i = 0; i < 8; i++) Assert.Equal(expected[i], got[i], 6);
        using var all = SensitivityScore.Sparsify(p, 10);   // k above the row length keeps the whole row
        var whole = p.data<float>().ToArray();
        var kept = all.data<float>().ToArray();
        for (int i = 0; i < 8; i++) Assert.Equal(whole[i], kept[i], 6);
    }

    [Fact]
    public void Ranked_heads_break_ties_by_layer_then_head_and_an_empty_map_has_no_heads()
    {
        var map = new HeadMap("x", [[1, 2, 1], [2, 1, 2]]);
        Assert.Equal([(0, 1), (1, 0), (1, 2), (0, 0), (0, 2), (1, 1)], map.Ranked());
        Assert.Equal(0, new HeadMap("x", []).Heads);
        Assert.Equal(3, map.Heads);
        Assert.Equal([1, 2, 1, 2, 1, 2], map.Flat());
    }

    [Fact]
    public void Multiple_choice_distractors_come_from_the_other_documents_never_from_the_passage()
    {
        var tok = new CharTokenizer(300);
        var docs = ConstructedHeads.Probes(tok, 3, 20);
        var set = ChoicePrompt.Build(docs, tok, count: 9, passage: 8, seed: 4);
        for (int i = 0; i < set.Count; i++)
        {
            var p = set[i];
            var passage = docs[i % 3].Skip(1).Take(8).ToArray();
            var options = p.OptionEnds.Select(e => p.Prompt[e - 1]).ToArray();   // the token before each option's line end
            Assert.Contains(options[p.Gold], passage);
            for (int o = 0; o < 4; o++)
                if (o != p.Gold)
                {
                    Assert.DoesNotContain(options[o], docs[i % 3]);
                    Assert.Contains(docs.Where((_, d) => d != i % 3), d => d.Contains(options[o]));
                }
        }
        Assert.True(set.Select(p => p.Gold).Distinct().Count() > 1, "the right letter varies with the seed");

        // The other document offers exactly 3 distinct words outside the passage (repeats and passage words do not count): enough.
        int[] own = [1, .. Enumerable.Range(0, 10).Select(tok.Word)];
        int[] three = [1, tok.Word(20), tok.Word(20), tok.Word(21), tok.Word(0), tok.Word(22), tok.Word(1), tok.Word(21)];
        Assert.Single(ChoicePrompt.Build([own, three], tok, 1, 8, 1));
        int[] two = [1, tok.Word(20), tok.Word(20), tok.Word(21), tok.Word(0), tok.Word(21), tok.Word(1), tok.Word(21)];
        Assert.Equal("probe documents are too alike to draw multiple-choice distractors", Error(() => ChoicePrompt.Build([own, two], tok, 1, 8, 1)));
    }

    [Fact]
    public void A_score_list_names_each_unknown_score_once()
    {
        var valid = string.Join(", ", ScoreRegistry.Names);
        Assert.Equal($"unknown score(s) typo; valid: {valid}", Error(() => ScoreRegistry.Parse("typo,typo")));
        Assert.Equal($"unknown score(s) typo; valid: {valid}",
            Error(() => ScoreRegistry.Parse("sink,typo", new Dictionary<string, string> { ["typo"] = "a=1" })));
    }

    [Fact]
    public void An_atlas_saves_non_finite_values_as_zero_in_an_indented_file_and_a_map_without_params_gets_an_empty_object()
    {
        var atlas = new HeadAtlas { Model = "m", Layers = 1, Heads = 3, KvHeads = 1 };
        atlas.Add(new HeadMap("a", [[double.NaN, double.PositiveInfinity, 0.5]]));
        Assert.Equal("{}", atlas["a"].Params!.ToJsonString());
        var path = Path.Combine(TestPaths.NewTempDir(), "atlas.json");
        atlas.Save(path);
        var text = File.ReadAllText(path);
        Assert.StartsWith("{\n  \"model\": \"m\",", text.ReplaceLineEndings("\n"));
        Assert.Equal([0, 0, 0.5], HeadAtlas.Load(path).Scores["a"][0]);
    }

    [Fact]
    public void The_duo_gate_training_record_lists_every_setting_with_the_lengths_scaled_to_the_context()
    {
        // 2,048-token model: 1,000 x 2048 / 32000 = 64 tokens shortest haystack, 32 x 2048 / 32000 = 2.048 -> 2 words.
        var expected = "{\"steps\":2000,\"batch\":1,\"lr\":0.02,\"l1\":0.05,\"initial_gate\":1,\"sinks\":64,\"recent\":256,\"passkeys\":10," +
                       "\"passkey_words\":2,\"min_length\":64,\"max_length\":2048,\"length_intervals\":50,\"depth_intervals\":1000," +
                       "\"min_depth\":0.05,\"max_depth\":0.95,\"scaled_from_context\":32000,\"model_context\":2048}";
        Assert.Equal(expected, new DuoGateTraining().ToJson(2048).ToJsonString());
        // A tiny context still gets at least one token and one word; set values are kept as given.
        var tiny = new DuoGateTraining().ToJson(10);
        Assert.Equal((1, 10, 1), (tiny["min_length"]!.GetValue<int>(), tiny["max_length"]!.GetValue<int>(), tiny["passkey_words"]!.GetValue<int>()));
        var set = new DuoGateTraining { MinLength = 7, MaxLength = 9, PasskeyWords = 3 }.ToJson(2048);
        Assert.Equal((7, 9, 3), (set["min_length"]!.GetValue<int>(), set["max_length"]!.GetValue<int>(), set["passkey_words"]!.GetValue<int>()));
    }

    [Fact]
    public void Duo_gate_keys_need_a_value_and_each_integer_key_its_own_minimum()
    {
        var keys = "steps, lr, l1, sinks, recent, passkeys, words, min_length, max_length, lengths";
        Assert.Equal($"duo-gate: 'steps' is not key=value with a known key; keys: {keys}", Error(() => DuoGateTraining.Parse("steps")));
        Assert.Equal($"duo-gate: 'x=1' is not key=value with a known key; keys: {keys}", Error(() => DuoGateTraining.Parse("steps=2,x=1")));
        Assert.Equal("duo-gate: sinks='-1' must be an integer >= 0", Error(() => DuoGateTraining.Parse("sinks=-1")));
        Assert.Equal("duo-gate: steps='0' must be an integer >= 1", Error(() => DuoGateTraining.Parse("steps=0")));
        Assert.Equal("duo-gate: lengths='2.5' must be an integer >= 1", Error(() => DuoGateTraining.Parse("lengths=2.5")));
        Assert.Equal(0.0, DuoGateTraining.Parse("lr=0").LearningRate);
        Assert.Equal(1, DuoGateTraining.Parse("lengths=1").LengthIntervals);
        Assert.Equal(new DuoGateTraining(), DuoGateTraining.Parse(" , "));
    }

    [Fact]
    public void Duo_haystack_lengths_are_an_even_grid_from_shortest_to_longest_without_repeats()
    {
        DuoTrainingData Data(int min, int max, int intervals) =>
            new(null, null, [5, 6, 7], new DuoGateTraining { MinLength = min, MaxLength = max, LengthIntervals = intervals }, 64, 60, 1);
        Assert.Equal([10, 15, 20], Data(10, 20, 3).Lengths);
        Assert.Equal([20], Data(10, 20, 1).Lengths);                 // one interval: the longest only
        Assert.Equal([20], Data(10, 20, 0).Lengths);                 // fewer than one counts as one
        Assert.Equal([10, 11], Data(10, 11, 5).Lengths);             // 10, 10.25, 10.5, 10.75, 11 truncated, each once
    }

    [Fact]
    public void A_disposed_context_captures_its_patterns_again_when_read_and_may_be_disposed_twice()
    {
        var probes = Enumerable.Range(0, 2).Select(d => HeadWise.Tests.Heads.TinyModels.Tokens(8, seed: d).data<long>().Select(x => (int)x).ToArray()).ToList();
        var ctx = new ProfileContext(HeadWise.Tests.Heads.TinyModels.Build("llama"), null, probes);
        ctx.Dispose();   // nothing captured yet
        var first = ctx.Patterns[1][0].sum().item<float>();
        ctx.Dispose();
        Assert.Equal(first, ctx.Patterns[1][0].sum().item<float>());   // each causal row sums to 1: 4 heads x 8 rows
        Assert.Equal(32f, first, 3);
        ctx.Dispose();
        ctx.Dispose();
    }

    [Fact]
    public void A_duo_pattern_config_is_written_indented_as_duoattention_writes_it()
    {
        var tsv = Path.Combine(TestPaths.NewTempDir(), "full_attention_heads.tsv");
        new DuoPattern([[1.0, 0.25]], 16, 128).Write(tsv);
        Assert.Equal("{\n  \"sink_size\": 16,\n  \"recent_size\": 128\n}", File.ReadAllText(Path.Combine(Path.GetDirectoryName(tsv)!, "config.json")).ReplaceLineEndings("\n"));
        Assert.Equal(["1\t0.25"], File.ReadAllLines(tsv));
    }

    /// <summary>Characters a-z as ids 2..27; no BOS.</summary>
    private sealed class NoBosTokenizer : ITokenizer
    {
        public string Kind => "test";
        public int VocabSize => 28;
        public int? BosId => null;
        public int? EosId => null;
        public bool AddBosByDefault => false;
        public IReadOnlyList<int> Encode(string text, bool addBos) => text.Select(c => c - 'a' + 2).ToArray();
        public string Decode(IEnumerable<int> ids) => string.Concat(ids.Select(i => (char)('a' + i - 2)));
        public string TokenLabel(int id) => ((char)('a' + id - 2)).ToString();
    }

    [Fact]
    public void Without_bos_a_probe_document_is_length_tokens_of_text()
    {
        var tok = new NoBosTokenizer();
        Assert.Equal([[2, 3, 4], [5, 6, 7]], ProbeSet.FromText("abcdefgh", tok, 5, 3));   // 8 tokens: two whole documents
        Assert.Equal("the probe text has 2 tokens; at least 3 are needed for one 3-token document", Error(() => ProbeSet.FromText("ab", tok, 1, 3)));
    }
}
