using System.Text.Json.Nodes;
using HeadWise.Analysis;
using HeadWise.Analysis.Scores;
using HeadWise.Heads;
using HeadWise.Tests.Heads;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Analysis;

/// <summary>DuoAttention's gate training, its data and its pattern, on cases whose answers hold by construction.</summary>
public sealed class DuoAttentionTests
{
    private const int T = 48;

    /// <summary>
    /// Layer 1 of the tiny llama (4 query heads, 2 KV heads) is built through its queries and keys: query head 0 (KV head
    /// 0) retrieves position 10 from every later query, far outside a streaming window of 1 sink + 4 recent tokens;
    /// query head 2 (KV head 1) attends only to itself and its last two neighbours (constant query and key on a RoPE
    /// frequency of 0.1 rad per position, scaled to 20: the score falls by 0.7 per step back and faster after). Query
    /// heads 1 and 3 and all of layer 0 write nothing (their W_O slices are zero). So only the retrieving head's
    /// output changes when it streams: its gate must stay up and rank first, every other gate must fall to streaming.
    /// </summary>
    private static ProfileContext Constructed()
    {
        var model = TinyModels.Build("llama");
        using (torch.no_grad())
        {
            model.Weights.Layers[0].Wo.zero_();
            var wo = model.Weights.Layers[1].Wo; // [D, H*d], d = 8
            wo.narrow(1, 1 * 8, 8).zero_();
            wo.narrow(1, 3 * 8, 8).zero_();
            wo.narrow(1, 0, 8).mul_(4f); // the retrieving head writes loudly
        }
        var names = HookNames.ForLayer(1);
        var hooks = new HookSet()
            .Add(names.Q, q =>
            {
                var r = q.clone(); // [B, T, H, d]; dims (2, 3) rotate at 0.1 rad per position, (6, 7) at 0.001
                r[.., .., 0] = 0; r[.., .., 0, 6] = 20;
                r[.., .., 2] = 0; r[.., .., 2, 2] = 20;
                return r;
            })
            .Add(names.K, k =>
            {
                var r = k.clone(); // [B, T, KvH, d]
                r[.., .., 0] = 0; r[.., 10, 0, 6] = 20;
                r[.., .., 1] = 0; r[.., .., 1, 2] = 20;
                return r;
            });
        var probes = Enumerable.Range(0, 3).Select(d => TinyModels.Tokens(T, seed: d).data<long>().Select(x => (int)x).ToArray()).ToList();
        return new ProfileContext(model, null, probes, seed: 2, hooks: hooks);
    }

    private static readonly DuoGateTraining Small = new()
    {
        Steps = 120, LearningRate = 0.05, Sinks = 1, Recent = 4, Passkeys = 1, PasskeyWords = 1, MinLength = 30, MaxLength = 40, LengthIntervals = 3,
    };

    [Fact]
    public void The_gate_of_the_head_that_retrieves_past_the_streaming_window_ranks_first_and_the_others_stream()
    {
        using var ctx = Constructed();
        var (gates, loss) = new DuoGateScore(Small).Optimise(ctx);
        Assert.True(gates[1][0] > 0.9, $"retrieving head's gate {gates[1][0]:F3}");
        foreach (var (l, h) in new[] { (0, 0), (0, 1), (1, 1) })
            Assert.True(gates[l][h] < 0.2, $"gate {l}.{h} = {gates[l][h]:F3} (writes nothing or stays local)");
        var pattern = new DuoPattern(gates, Small.Sinks, Small.Recent);
        Assert.Equal((1, 0), pattern.Ranked()[^1]);
        var full = pattern.FullBySparsity(0.75); // DuoAttention's MHA sparsity: 1 of 4 KV heads full
        Assert.Equal(new[] { false, false, true, false }, full.SelectMany(r => r));
        Assert.True(loss.All(double.IsFinite));
    }

    [Fact]
    public void Training_is_reproducible_for_a_seed_and_the_map_carries_the_pattern_and_the_budget()
    {
        var t = Small with { Steps = 5 };
        using var a = Constructed();
        using var b = Constructed();
        var (ga, la) = new DuoGateScore(t).Optimise(a);
        var (gb, lb) = new DuoGateScore(t).Optimise(b);
        Assert.Equal(la, lb);
        Assert.Equal(ga.SelectMany(r => r), gb.SelectMany(r => r));
        var map = new DuoGateScore(t).Compute(a)[0];
        Assert.Equal(1, map.Params!["sinks"]!.GetValue<int>());
        Assert.Equal(4, map.Params!["recent"]!.GetValue<int>());
        Assert.Equal(5, map.Params!["steps"]!.GetValue<int>());
        Assert.Equal(5, map.Params!["loss_curve"]!.AsArray().Count);
        Assert.Equal(map[1, 0], map[1, 1]); // one gate per KV head, repeated over its two query heads
    }

    [Fact]
    public void Paper_lengths_and_passkey_words_scale_with_the_context()
    {
        var t = new DuoGateTraining();
        Assert.Equal((1000, 32000), t.Lengths(32000));
        Assert.Equal(32, t.WordsPerPasskey(32000));
        Assert.Equal((64, 2048), t.Lengths(2048));
        Assert.Equal(2, t.WordsPerPasskey(2048));
        // Warm-up and decay each over a fifth of the steps, never below 10 %: 2,000 steps → 400-step ramps.
        Assert.Equal(0.002, t.LearningRateAt(0), 12);
        Assert.Equal(0.02 * 100 / 400.0, t.LearningRateAt(99), 12);
        Assert.Equal(0.02, t.LearningRateAt(1000), 12);
        Assert.Equal(0.02 * 200 / 400.0, t.LearningRateAt(1800), 12);
        Assert.Equal(0.002, t.LearningRateAt(1999), 12);
    }

    [Fact]
    public void A_training_sample_hides_each_passkey_once_in_order_and_asks_for_them_after_the_book()
    {
        var tok = new WordTokenizer();
        var t = new DuoGateTraining { Passkeys = 3, PasskeyWords = 4, MinLength = 200, MaxLength = 200, LengthIntervals = 1 };
        var hay = Enumerable.Range(0, 500).Select(i => tok.Id("hay")).ToArray();
        var data = new DuoTrainingData(tok.Encode, 0, hay, t, contextLength: 2048, vocab: 1000, seed: 7);
        var s = data.Next();
        var words = s.Tokens.Select(x => tok.Word((int)x)).ToArray();
        Assert.Equal(200, words.Count(w => w == "hay"));
        var book = words[..s.AnswersFrom];
        var answers = words[s.AnswersFrom..];
        Assert.Equal(0, (int)s.Tokens[0]); // BOS
        for (int i = 0; i < 3; i++)
        {
            string ordinal = new[] { "first", "second", "third" }[i];
            int at = Array.IndexOf(book, ordinal);
            var key = book[(at + 5)..(at + 9)]; // "... the {ordinal} passkey to the vault: w1 w2 w3 w4"
            Assert.All(key, w => Assert.Contains(w, new[] { "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett",
                "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu" }));
            int q = Array.IndexOf(answers, ordinal);
            int colon = Array.IndexOf(answers, "Passkey:", q);
            Assert.Equal(key, answers[(colon + 1)..(colon + 5)]);
        }
        Assert.DoesNotContain("hay", answers);
        Assert.True(Array.IndexOf(book, "first") < Array.IndexOf(book, "second") && Array.IndexOf(book, "second") < Array.IndexOf(book, "third"));
    }

    [Fact]
    public void Sparsity_keeps_the_top_quantile_full_and_ties_break_the_same_way_every_time()
    {
        // 16 distinct gates: numpy.quantile(g, 0.75) interpolates between the 12th and 13th smallest, so 4 stay full.
        var gates = new[] { new[] { 0.1, 0.9, 0.3, 0.5 }, new[] { 0.2, 0.8, 0.05, 0.7 }, new[] { 0.6, 0.15, 0.95, 0.4 }, new[] { 0.35, 0.45, 0.55, 0.65 } };
        var p = new DuoPattern(gates, 64, 256);
        var full = p.FullBySparsity(0.75);
        Assert.Equal(new[] { (0, 1), (1, 1), (1, 3), (2, 2) }, Heads(full)); // 0.9, 0.8, 0.7, 0.95
        Assert.Equal(8, Heads(p.FullBySparsity(0.5)).Length);
        Assert.Empty(Heads(p.FullBySparsity(1)));
        Assert.Equal(16, Heads(p.FullBySparsity(0)).Length);
        Assert.Equal(new[] { (0, 1), (1, 1), (2, 2) }, Heads(p.FullByThreshold(0.8)));
        var tied = new DuoPattern([[1, 1, 0, 0], [1, 1, 0, 0]], 64, 256);
        // Eight gates, six streaming (ceil(0.75 x 7)); among the four at 1, the later ones in layer-major order stay full.
        Assert.Equal(new[] { (1, 0), (1, 1) }, Heads(tied.FullBySparsity(0.75)));
        Assert.Contains("sparsity must be in [0, 1]", Assert.Throws<HeadWiseException>(() => p.FullBySparsity(1.5)).Message);

        static (int, int)[] Heads(bool[][] f) => f.SelectMany((r, l) => r.Select((x, h) => (x, l, h))).Where(e => e.x).Select(e => (e.l, e.h)).ToArray();
    }

    [Fact]
    public void The_pattern_round_trips_with_its_streaming_window_in_duoattentions_layout()
    {
        var dir = TestPaths.NewTempDir();
        var tsv = Path.Combine(dir, "full_attention_heads.tsv");
        var p = new DuoPattern([[1.0, 0.25], [0.0, 0.5]], 16, 128);
        p.Write(tsv, new JsonObject { ["steps"] = 7 });
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        Assert.Equal(16, config["sink_size"]!.GetValue<int>());
        Assert.Equal(128, config["recent_size"]!.GetValue<int>());
        var back = DuoPattern.Read(tsv);
        Assert.Equal(p.Gates.SelectMany(r => r), back.Gates.SelectMany(r => r));
        Assert.Equal((16, 128), (back.Sinks, back.Recent));
        var atlas = new HeadAtlas { Model = "m", Layers = 2, Heads = 4, KvHeads = 2 };
        back.IntoAtlas(atlas, tsv);
        var again = DuoPattern.FromAtlas(atlas);
        Assert.Equal(p.Gates.SelectMany(r => r), again.Gates.SelectMany(r => r));
        Assert.Equal((16, 128), (again.Sinks, again.Recent));

        // A bare TSV (no config.json) is DuoAttention's default pattern; gates are clipped to [0, 1] as DuoAttention loads them.
        var bare = Path.Combine(TestPaths.NewTempDir(), "p.tsv");
        File.WriteAllText(bare, "1.5\t-0.25\n");
        var b = DuoPattern.Read(bare);
        Assert.Equal(new[] { 1.0, 0.0 }, b.Gates[0]);
        Assert.Equal((64, 256), (b.Sinks, b.Recent));

        // A config.json that is not a pattern's (e.g. a model folder's) is never overwritten.
        var modelDir = TestPaths.NewTempDir();
        File.WriteAllText(Path.Combine(modelDir, "config.json"), """{"model_type":"llama"}""");
        var e = Assert.Throws<HeadWiseException>(() => p.Write(Path.Combine(modelDir, "full_attention_heads.tsv")));
        Assert.Contains("not a DuoAttention pattern config", e.Message);
        Assert.Contains("llama", File.ReadAllText(Path.Combine(modelDir, "config.json")));
    }

    [Fact]
    public void Unknown_or_bad_training_keys_are_refused_naming_the_valid_ones()
    {
        Assert.Equal(500, DuoGateTraining.Parse("steps=500,sinks=16").Steps);
        var e = Assert.Throws<HeadWiseException>(() => DuoGateTraining.Parse("stepz=5"));
        Assert.Contains("steps", e.Message);
        Assert.Contains("recent", e.Message);
        Assert.Contains(">= 1", Assert.Throws<HeadWiseException>(() => DuoGateTraining.Parse("recent=0")).Message);
        Assert.Contains("takes no parameters", Assert.Throws<HeadWiseException>(() =>
            ScoreRegistry.Parse("sink", new Dictionary<string, string> { ["sink"] = "x=1" })).Message);
    }

    /// <summary>One id per whitespace-separated word (newlines dropped): enough to read a sample back.</summary>
    private sealed class WordTokenizer
    {
        private readonly Dictionary<string, int> _ids = new() { ["<s>"] = 0 };
        private readonly List<string> _words = ["<s>"];

        public int Id(string w)
        {
            if (_ids.TryGetValue(w, out var id)) return id;
            _ids[w] = _words.Count;
            _words.Add(w);
            return _words.Count - 1;
        }

        public string Word(int id) => _words[id];

        public int[] Encode(string s) => s.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries).Select(Id).ToArray();
    }
}
