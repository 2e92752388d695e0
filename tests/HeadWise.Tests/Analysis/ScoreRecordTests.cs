using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using HeadWise.Analysis;
using HeadWise.Analysis.Scores;
using HeadWise.Heads;
using HeadWise.Heads.Interventions;
using HeadWise.Tests.Heads;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Analysis;

/// <summary>
/// Issue 23 (Stryker's Analysis survivors): what a profile records beside the scores (each score's parameters in the
/// atlas, the profile's own record and progress lines) and score values that the earlier tests only bounded, checked
/// against plain loops over the model's outputs or values that hold by construction.
/// </summary>
public class ScoreRecordTests
{
    private static double Get(HeadMap map, string key) => map.Params![key]!.GetValue<double>();
    private static int GetInt(HeadMap map, string key) => map.Params![key]!.GetValue<int>();
    private static string GetText(HeadMap map, string key) => map.Params![key]!.GetValue<string>();

    private static ProfileContext Constructed(List<string>? progress = null, int context = 96, bool copyHead = true)
    {
        var tok = new CharTokenizer(words: 3 * 31);
        var hooks = copyHead ? null : new HookSet().Add(HeadAblation.Zero(ConstructedHeads.Copy.Layer, ConstructedHeads.Copy.Head));
        return new ProfileContext(ConstructedHeads.Build(tok, context), null, ConstructedHeads.Probes(tok, 3, 32), seed: 1, hooks, progress is null ? null : progress.Add);
    }

    private static List<int[]> TinyProbes(int documents, int length) =>
        Enumerable.Range(0, documents).Select(d => TinyModels.Tokens(length, seed: d).data<long>().Select(x => (int)x).ToArray()).ToList();

    [Fact]
    public void A_profile_records_its_seed_probes_timings_skips_and_progress()
    {
        var progress = new List<string>();
        using var ctx = new ProfileContext(TinyModels.Build("bert"), null, TinyProbes(2, 16), seed: 5, progress: progress.Add);
        var atlas = HeadProfiler.Profile(ctx, ScoreRegistry.Parse("sink,retrieval"), "tiny-bert", new JsonObject { ["probe_file"] = "x.txt" });
        Assert.Equal(("tiny-bert", 2, 4, 4), (atlas.Model, atlas.Layers, atlas.Heads, atlas.KvHeads));
        Assert.Equal(5, atlas.Params["seed"]!.GetValue<int>());
        Assert.Equal(2, atlas.Params["probe_documents"]!.GetValue<int>());
        Assert.Equal(16, atlas.Params["probe_tokens"]!.GetValue<int>());
        Assert.False(atlas.Params["causal"]!.GetValue<bool>());
        Assert.Equal("x.txt", atlas.Params["probe_file"]!.GetValue<string>());
        Assert.Equal("{\"retrieval\":\"needs generation (decoder models only)\"}", atlas.Skipped.ToJsonString());
        Assert.Equal(["sink"], atlas.Params["seconds"]!.AsObject().Select(kv => kv.Key));
        Assert.True(atlas.Params["seconds"]!["sink"]!.GetValue<double>() >= 0);
        Assert.Equal(3, progress.Count);
        Assert.Equal("[1/2] sink", progress[0]);
        Assert.Matches(@"^\[1/2\] sink: done in \d+\.\d s$", progress[1]);
        Assert.Equal("[2/2] retrieval: skipped (needs generation (decoder models only))", progress[2]);
        // The profile remembers each map on the context: a later score reads it instead of computing it again.
        Assert.Equal(atlas.Scores["sink"], ctx.MapOrCompute("sink", () => throw new InvalidOperationException("computed again")).Values);
    }

    [Fact]
    public void Pattern_scores_record_their_parameters()
    {
        using var ctx = new ProfileContext(TinyModels.Build("llama"), null, TinyProbes(3, 24), seed: 1);
        Assert.Equal("{\"unit\":\"nats\"}", new EntropyScore().Compute(ctx)[0].Params!.ToJsonString());
        var locality = new LocalityScore(window: 7).Compute(ctx);
        Assert.Equal(["waad", "fai"], locality.Select(m => m.Name));
        Assert.All(locality, m => Assert.Equal("{\"window\":7}", m.Params!.ToJsonString()));
        Assert.Equal("{\"measure\":\"1 - cos(head output, layer mean of head outputs)\"}", new HeterogeneityScore().Compute(ctx)[0].Params!.ToJsonString());
        var sink = new SinkScore(threshold: 0.25).Compute(ctx)[0];
        Assert.Equal(0.25, Get(sink, "threshold"));
        Assert.Equal(sink.Flat().Count(v => v > 0.25) / 8.0, Get(sink, "sink_ratio"), 12);
        Assert.Equal(sink.Values[1].Count(v => v > 0.25) / 4.0, Get(sink, "sink_ratio_from_layer_1"), 12);

        var similarity = new SimilarityScore(threshold: 0.5).Compute(ctx)[0];
        Assert.Equal("cosine similarity of attention patterns; map = max over other heads of the same layer", GetText(similarity, "measure"));
        Assert.Equal(0.5, Get(similarity, "threshold"));
        var matrix = similarity.Params!["matrix"]!.AsArray();
        Assert.Equal(8, matrix.Count);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(1.0, matrix[i]![i]!.GetValue<double>(), 3);   // each head's pattern against itself
            int l = i / 4, h = i % 4;
            double best = Enumerable.Range(0, 4).Where(o => o != h).Max(o => matrix[i]![l * 4 + o]!.GetValue<double>());
            Assert.Equal(best, similarity[l, h], 3);                  // the map is the best match among the other heads
        }
        Assert.True(similarity.Flat().Max() < 0.9999, "random heads' patterns differ: no head matches another exactly");
    }

    [Fact]
    public void A_secondary_sink_is_recorded_with_its_probe_position_token_and_layers_and_a_share_at_the_threshold_is_no_sink()
    {
        // Every head of layer 1 splits each query from position 3 on half and half between tokens 0 and 3.
        var hooks = new HookSet().Add(HookNames.ForLayer(1).Pattern, p =>
        {
            var r = torch.zeros_like(p);
            r[.., .., .., 0] = 1;
            r[.., .., 3.., 0] = 0.5;
            r[.., .., 3.., 3] = 0.5;
            return r;
        });
        var probes = TinyProbes(2, 24);
        using var ctx = new ProfileContext(TinyModels.Build("llama"), null, probes, seed: 1, hooks: hooks);
        var map = new SecondarySinkScore(threshold: 0.3, minFuture: 8).Compute(ctx)[0];
        Assert.Equal(0.3, Get(map, "threshold"));
        Assert.Equal(8, GetInt(map, "min_future_queries"));
        var expected = new JsonArray(Enumerable.Range(0, 2).Select(d => (JsonNode)new JsonObject
        {
            ["probe"] = d, ["position"] = 3, ["token"] = probes[d][3].ToString(), ["layers"] = new JsonArray(1),
        }).ToArray());
        Assert.Equal(expected.ToJsonString(), map.Params!["sinks"]!.ToJsonString());
        Assert.All(map.Values[1], v => Assert.Equal(0.5, v, 5));

        // Position 3 draws exactly half of the attention: at a threshold of 0.5 it is not above it, so nothing is found.
        var none = new SecondarySinkScore(threshold: 0.5, minFuture: 8).Compute(ctx)[0];
        Assert.Empty(none.Params!["sinks"]!.AsArray());
        Assert.All(none.Flat(), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void Importance_is_each_heads_mean_loss_change_and_kl_computed_in_plain_loops()
    {
        var tok = new CharTokenizer(words: 15);
        var span = Enumerable.Range(0, 15).Select(tok.Word).ToArray();
        List<int[]> docs = [[1, .. span, .. span], [1, .. span.Reverse(), .. span.Take(7), .. span.Reverse().Take(8)]];
        using var model = ConstructedHeads.Build(tok);
        var progress = new List<string>();
        using var ctx = new ProfileContext(model, tok, docs, seed: 1, progress: progress.Add);
        var maps = new ImportanceScore().Compute(ctx);
        Assert.Equal(["importance", "importance-kl"], maps.Select(m => m.Name));
        Assert.Equal("{\"ablation\":\"zero\",\"documents\":2,\"measure\":\"mean next-token loss change\"}", maps[0].Params!.ToJsonString());
        Assert.Equal("{\"ablation\":\"zero\",\"measure\":\"KL(clean || masked), nats per token\"}", maps[1].Params!.ToJsonString());
        Assert.Equal(["importance: layer 1/3", "importance: layer 2/3", "importance: layer 3/3"], progress);
        foreach (var head in new[] { ConstructedHeads.Copy, ConstructedHeads.Local, ConstructedHeads.Duplicate })
        {
            double change = docs.Average(d => ConstructedScoreTests.MeanNll(model, d, head) - ConstructedScoreTests.MeanNll(model, d));
            Assert.Equal(change, maps[0][head.Layer, head.Head], 3);
            Assert.Equal(NextTokenKl(model, docs, head), maps[1][head.Layer, head.Head], 3);
        }
        // The documents lean on copying unequally (one repeats its span whole), so the mean is neither document's change.
        var perDoc = docs.Select(d => ConstructedScoreTests.MeanNll(model, d, ConstructedHeads.Copy) - ConstructedScoreTests.MeanNll(model, d)).ToArray();
        Assert.True(Math.Abs(perDoc[0] - perDoc[1]) > 0.1, $"per-document changes {perDoc[0]:F3}, {perDoc[1]:F3}");
    }

    /// <summary>KL(clean || masked) of the next-token distributions, averaged over every position of every document.</summary>
    private static double NextTokenKl(HeadWise.Models.Transformer model, List<int[]> docs, (int Layer, int Head) masked)
    {
        double sum = 0; int n = 0;
        foreach (var doc in docs)
        {
            var clean = LogSoftmaxRows(model, doc, null);
            var weak = LogSoftmaxRows(model, doc, masked);
            for (int t = 0; t < clean.Length; t++, n++)
                sum += clean[t].Zip(weak[t], (p, q) => Math.Exp(p) * (p - q)).Sum();
        }
        return sum / n;
    }

    private static double[][] LogSoftmaxRows(HeadWise.Models.Transformer model, int[] doc, (int Layer, int Head)? masked)
    {
        var hooks = new HookSet();
        if (masked is { } m) hooks.Add(HeadAblation.Zero(m.Layer, m.Head));
        using var ids = torch.tensor(doc.Select(x => (long)x).ToArray(), [1, doc.Length]);
        using var logits = model.Forward(ids, null, hooks);
        var all = logits.to_type(ScalarType.Float64).data<double>().ToArray();
        int v = (int)logits.shape[2];
        return Enumerable.Range(0, doc.Length).Select(t =>
        {
            var row = all.AsSpan(t * v, v).ToArray();
            double max = row.Max(), log = Math.Log(row.Sum(x => Math.Exp(x - max)));
            return row.Select(x => x - max - log).ToArray();
        }).ToArray();
    }

    [Fact]
    public void An_encoders_importance_is_the_relative_squared_change_of_its_final_hidden_states()
    {
        using var model = TinyModels.Build("bert");
        var probes = TinyProbes(2, 12);
        using var ctx = new ProfileContext(model, null, probes, seed: 1);
        var maps = new ImportanceScore().Compute(ctx);
        var map = Assert.Single(maps);   // no next-token distribution, so no KL map
        Assert.Equal("relative squared change of final hidden states", GetText(map, "measure"));
        foreach (var (l, h) in new[] { (0, 1), (1, 3) })
        {
            double expected = probes.Average(doc =>
            {
                var clean = Hidden(model, doc, null);
                var masked = Hidden(model, doc, (l, h));
                return Enumerable.Range(0, doc.Length).Average(t =>
                    clean[t].Zip(masked[t], (c, m) => (m - c) * (m - c)).Sum() / clean[t].Sum(c => c * c));
            });
            Assert.True(expected > 1e-4, $"head {l}.{h} changes the hidden states");
            Assert.Equal(expected, map[l, h], 4);
        }
    }

    private static double[][] Hidden(HeadWise.Models.Transformer model, int[] doc, (int Layer, int Head)? masked)
    {
        var hooks = new HookSet();
        if (masked is { } m) hooks.Add(HeadAblation.Zero(m.Layer, m.Head));
        using var ids = torch.tensor(doc.Select(x => (long)x).ToArray(), [1, doc.Length]);
        using var x = model.Forward(ids, null, hooks);
        var all = x.to_type(ScalarType.Float64).data<double>().ToArray();
        int d = (int)x.shape[2];
        return Enumerable.Range(0, doc.Length).Select(t => all.AsSpan(t * d, d).ToArray()).ToArray();
    }

    [Fact]
    public void Retrieval_records_its_prompt_set_and_counts_only_answers_above_the_recall_bar()
    {
        using (var ctx = Constructed())
        {
            var map = new RetrievalScore(prompts: 4).Compute(ctx).Single();
            // 32-token probes in a 96-token context: the haystack is the probe less its BOS, 31 tokens.
            Assert.Equal("{\"prompts\":4,\"prompts_answered\":4,\"min_recall\":0.5,\"needle_tokens\":12,\"cue_tokens\":3,\"haystack_tokens\":31,\"answer_token_accuracy\":1}",
                map.Params!.ToJsonString());
            // A perfect answer has recall 1, which is not above a bar of 1: no prompt counts.
            var strict = new RetrievalScore(prompts: 4, minRecall: 1.0).Compute(ctx).Single();
            Assert.Equal(0, GetInt(strict, "prompts_answered"));
            Assert.Equal(1.0, Get(strict, "answer_token_accuracy"));
        }
        using (var ctx = Constructed(copyHead: false))
            Assert.Equal(0.0, Get(new RetrievalScore(prompts: 2).Compute(ctx).Single(), "answer_token_accuracy"));
        // A 40-token context binds: 40 - 2 x 12 - 1 = 15 haystack tokens; 27 leaves 2, the fewest; 26 leaves 1: refused.
        using (var ctx = Constructed(context: 40))
            Assert.Equal(15, GetInt(new RetrievalScore(prompts: 1).Compute(ctx).Single(), "haystack_tokens"));
        using (var ctx = Constructed(context: 27))
            Assert.Equal(2, GetInt(new RetrievalScore(prompts: 1).Compute(ctx).Single(), "haystack_tokens"));
        using (var ctx = Constructed(context: 26))
            Assert.Equal("retrieval: a 12-token needle and its answer leave no room for a haystack in the model's 26-token context",
                Assert.Throws<HeadWiseException>(() => new RetrievalScore(prompts: 1).Compute(ctx)).Message);
    }

    [Fact]
    public void Retrieval_reasoning_records_its_prompt_set_and_counts_only_answers_above_the_f1_bar()
    {
        using (var ctx = Constructed())
        {
            var map = new RetrievalReasoningScore(prompts: 4).Compute(ctx).Single();
            // Haystack 31 (the probe less BOS), two 12-token facts, the 3-token cue: 58 prompt tokens.
            Assert.Equal("{\"prompts\":4,\"prompts_answered\":4,\"min_f1\":0.5,\"facts\":2,\"needles\":\"probe-text spans of 12 tokens, asked by their first 3\",\"top_k\":\"needle length\",\"prompt_tokens\":58}",
                map.Params!.ToJsonString());
            var strict = new RetrievalReasoningScore(prompts: 4, minF1: 1.0).Compute(ctx).Single();
            Assert.Equal(0, GetInt(strict, "prompts_answered"));
        }
        // A 40-token context binds: 40 - 2 x 12 - 12 - 1 = 3 haystack tokens (30-token prompts); 38 leaves 1: refused.
        using (var ctx = Constructed(context: 40))
            Assert.Equal(30, GetInt(new RetrievalReasoningScore(prompts: 1).Compute(ctx).Single(), "prompt_tokens"));
        using (var ctx = Constructed(context: 38))
            Assert.Equal("retrieval-reasoning: 2 facts of 12 tokens and the answer leave no room for a haystack in the model's 38-token context",
                Assert.Throws<HeadWiseException>(() => new RetrievalReasoningScore(prompts: 1).Compute(ctx)).Message);
    }

    [Fact]
    public void Sensitivity_qk_select_and_attention_influence_record_their_settings()
    {
        var tok = new CharTokenizer(words: 3 * 31);
        using var ctx = new ProfileContext(ConstructedHeads.Build(tok), tok, ConstructedHeads.Probes(tok, 3, 32), seed: 1);
        var sensitivity = new SensitivityScore().Compute(ctx)[0];
        Assert.Equal(4, GetInt(sensitivity, "keep_top_k"));   // ceil(0.1 x 32)
        Assert.Equal(0.1, Get(sensitivity, "keep_fraction"));
        Assert.Equal("1/2 sum (dL/dA * dA)^2 + 1/2 sum (dL/dO * dO)^2 (diagonal empirical Fisher), mean over documents", GetText(sensitivity, "estimate"));
        Assert.Equal(2, GetInt(new SensitivityScore(keepFraction: 0.01).Compute(ctx)[0], "keep_top_k"));   // at least 2 keys

        var qk = new QkSelectScore(prompts: 4, passage: 10).Compute(ctx)[0];
        Assert.Equal("{\"prompts\":4,\"options\":4,\"orders\":\"each question once with the right option at each letter\",\"passage_tokens\":10,\"chance\":0.25,\"keys\":\"end-of-line token after each option\"}", qk.Params!.ToJsonString());
    }

    [Fact]
    public void Attention_influence_records_each_documents_clean_and_masked_loss()
    {
        var tok = new CharTokenizer(words: 60);
        List<int[]> docs = [[1, .. Enumerable.Range(0, 15).Select(tok.Word), .. Enumerable.Range(0, 15).Select(tok.Word)],
                            [1, .. Enumerable.Range(15, 30).Select(tok.Word)]];
        using var model = ConstructedHeads.Build(tok);
        using var ctx = new ProfileContext(model, tok, docs, seed: 1);
        var values = HeadMap.Zeros(ConstructedHeads.Layers, ConstructedHeads.Heads);
        values[ConstructedHeads.Copy.Layer][ConstructedHeads.Copy.Head] = 1.0;
        ctx.Remember(new HeadMap("retrieval", values));
        var map = new AttentionInfluenceScore(share: 0.05).Compute(ctx).Single();
        Assert.Equal(0.05, Get(map, "share"));
        Assert.Equal("zero attention output, all masked heads together", GetText(map, "masking"));
        Assert.Equal(2, GetInt(map, "documents"));
        Assert.Equal("[\"2.2\"]", map.Params!["masked_heads"]!.ToJsonString());
        var clean = map.Params!["clean_loss"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        var masked = map.Params!["masked_loss"]!.AsArray().Select(x => x!.GetValue<double>()).ToArray();
        for (int d = 0; d < 2; d++)
        {
            Assert.Equal(ConstructedScoreTests.MeanNll(model, docs[d]), clean[d], 4);
            Assert.Equal(ConstructedScoreTests.MeanNll(model, docs[d], ConstructedHeads.Copy), masked[d], 4);
        }
    }

    [Fact]
    public void Duo_gate_training_reports_its_first_and_last_step_keeps_gates_in_0_1_and_records_them()
    {
        var progress = new List<string>();
        using var ctx = new ProfileContext(TinyModels.Build("llama"), null, TinyProbes(3, 48), seed: 3, progress: progress.Add);
        // Gates start at 0.5 with a learning rate of 1 and no L1: AdamW's first step moves each gate by about 1 toward
        // the full output (gate 1 reproduces the target exactly), past 1 unless clamped.
        var training = new DuoGateTraining { Steps = 3, LearningRate = 1, L1 = 0, InitialGate = 0.5, Sinks = 1, Recent = 4, Passkeys = 1, PasskeyWords = 1, MaxLength = 24, LengthIntervals = 2 };
        var map = new DuoGateScore(training).Compute(ctx)[0];
        var gates = map.Params!["kv_gates"]!.AsArray().Select(r => r!.AsArray().Select(x => x!.GetValue<double>()).ToArray()).ToArray();
        Assert.Equal((2, 2), (gates.Length, gates[0].Length));
        Assert.All(gates.SelectMany(r => r), g => Assert.InRange(g, 0.0, 1.0));
        Assert.Contains(gates.SelectMany(r => r), g => g == 1.0);
        Assert.Equal("probe documents", GetText(map, "haystack"));
        for (int l = 0; l < 2; l++) for (int h = 0; h < 4; h++) Assert.Equal(gates[l][h / 2], map[l, h]);
        Assert.Equal(2, progress.Count);
        var last = Regex.Match(progress[1], @"^duo-gate: step 3/3 \((\d+) tokens\) loss \S+ gates (\S+) (\S+) \| (\S+) (\S+)$");
        Assert.True(last.Success, progress[1]);
        Assert.Matches(@"^duo-gate: step 1/3 \(\d+ tokens\) loss \S+ gates ", progress[0]);
        Assert.Equal(gates.SelectMany(r => r).Select(g => g.ToString("F2")), Enumerable.Range(2, 4).Select(i => last.Groups[i].Value));
    }
}
