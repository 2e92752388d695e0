using System.Text;
using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;
using TorchSharp;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's survivors in BenchRunner's aggregate): every field of a bench result recomputed here from its
/// definition, per sample, with no harness code: teacher-forced scores from one plain forward over the whole prompt,
/// answers from a greedy loop of full forwards. Grids are given out of order so that order is checked too.
/// </summary>
public class BenchAggregateTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));

    private static long FullBytes(ModelSpec s, int n) => (long)s.Layers * s.KvHeads * n * s.HeadDim * 2 * sizeof(float);

    [Fact]
    public void A_perplexity_bench_reports_the_pooled_nll_per_token_and_per_byte_and_groups_by_length_in_order()
    {
        var m = Stories.Value;
        var task = TaskRegistry.Create("perplexity");
        var o = new TaskOptions { Lengths = [120, 60], Samples = 2, Seed = 3, HaystackPath = TestPaths.MobyDick };
        var r = BenchRunner.Run(m, task, o, new PolicyCacheFactory("full", KvBudget.All, CompressMode.Chunked));
        var samples = task.Generate(m.Tokenizer, o);
        double nll = 0;
        long scored = 0, bytes = 0;
        var accuracy = new List<(int Length, double Acc)>();
        foreach (var s in samples)
        {
            Assert.Equal(s.Length, s.Tokens.Length);
            Assert.Equal(1, s.ScoredFrom);
            using var scope = torch.NewDisposeScope();
            var logits = m.Transformer.Forward(torch.tensor(s.Tokens.Select(t => (long)t).ToArray(), [1, s.Tokens.Length]))[0].to(torch.ScalarType.Float64);
            var logp = logits.log_softmax(-1).data<double>().ToArray();
            var argmax = logits.argmax(-1).data<long>().ToArray();
            int v = (int)logits.shape[1], hits = 0;
            // Position i predicts token i + 1: every token after the first is scored.
            for (int i = 0; i + 1 < s.Tokens.Length; i++)
            {
                nll -= logp[i * v + s.Tokens[i + 1]];
                if (argmax[i] == s.Tokens[i + 1]) hits++;
            }
            scored += s.Tokens.Length - 1;
            bytes += Encoding.UTF8.GetByteCount(m.Tokenizer.Decode(s.Tokens[1..]));
            accuracy.Add((s.Length, (double)hits / (s.Tokens.Length - 1)));
        }
        Assert.Equal(2 * 119 + 2 * 59, scored);
        Assert.Equal(nll / scored, r.PerplexityNats!.Value, 1e-4);
        Assert.Equal(Math.Exp(nll / scored), r.Perplexity!.Value, 1e-3);
        Assert.Equal(nll / Math.Log(2) / bytes, r.BitsPerByte!.Value, 1e-4);
        Assert.Equal(accuracy.Average(a => a.Acc), r.Accuracy, 12);
        Assert.Equal([120, 60], r.Lengths);
        Assert.Equal(["60", "120"], r.ByLength.Keys);
        foreach (int length in new[] { 60, 120 })
        {
            var g = r.ByLength[length.ToString()];
            Assert.Equal(2, g.Samples);
            Assert.Equal(accuracy.Where(a => a.Length == length).Average(a => a.Acc), g.Accuracy, 12);
            Assert.Equal(FullBytes(m.Spec, length), g.KvBytes);
            Assert.Equal(FullBytes(m.Spec, length), g.KvBytesFull);
        }
        Assert.Equal([(60, (double?)null, 2), (120, null, 2)], r.Grid.Select(c => (c.Length, c.Depth, c.Samples)));
        Assert.Equal(accuracy.Where(a => a.Length == 60).Average(a => a.Acc), r.Grid[0].Accuracy, 12);
        // A full cache keeps (and at most holds) every position: kept, peak and full bytes are all the mean full size.
        Assert.Equal((FullBytes(m.Spec, 120) + FullBytes(m.Spec, 60)) / 2, r.KvBytes);
        Assert.Equal(r.KvBytes, r.KvPeakBytes);
        Assert.Equal(r.KvBytes, r.KvBytesFull);
        // No answers, no depth axis, nothing decoded: those fields are absent, not 0 or NaN.
        Assert.Null(r.ExactMatch);
        Assert.Null(r.Rouge1Recall);
        Assert.Null(r.Answers);
        Assert.Null(r.Depths);
        Assert.Null(r.ByDepth);
        Assert.Null(r.DecodeTps);
        Assert.Null(r.AttendedShare);
    }

    [Fact]
    public void A_niah_bench_reports_exact_match_and_rouge_means_and_groups_by_depth_in_order()
    {
        var m = Stories.Value;
        var task = TaskRegistry.Create("niah");
        var o = new TaskOptions { Lengths = [260, 180], Depths = [0.8, 0.2], Samples = 1, Seed = 6, HaystackPath = TestPaths.MobyDick };
        var r = BenchRunner.Run(m, task, o, new PolicyCacheFactory("full", KvBudget.All, CompressMode.Context));
        var samples = task.Generate(m.Tokenizer, o);
        // Grid order of the samples: lengths as given, then depths as given.
        Assert.Equal([(260, 0.8), (260, 0.2), (180, 0.8), (180, 0.2)], samples.Select(s => (s.Length, s.Depth!.Value)));
        var rouge = new List<double>();
        var exact = new List<double>();
        foreach (var s in samples)
        {
            var text = m.Tokenizer.Decode(HarnessIndependentCheckTests.GreedyByFullForwards(m, s.Tokens, s.MaxNewTokens));
            rouge.Add(HarnessIndependentCheckTests.HandScore(s, text));
            // Exact words: the output's words start with all the answer's words.
            string[] Words(string t) => [.. System.Text.RegularExpressions.Regex.Matches(t.ToLowerInvariant(), @"[\p{L}\p{N}']+").Select(x => x.Value)];
            var want = Words(s.Answer!);
            var got = Words(text);
            exact.Add(got.Length >= want.Length && got.Take(want.Length).SequenceEqual(want) ? 1 : 0);
        }
        Console.WriteLine($"niah rouge per prompt: {string.Join(", ", rouge)}");
        Assert.True(rouge.Distinct().Count() > 1, "the prompts' scores are all alike: a mean could not be told from a min");
        Assert.Equal(rouge.Average(), r.Accuracy, 12);
        Assert.Equal(rouge.Average(), r.Rouge1Recall!.Value, 12);
        Assert.Equal(exact.Average(), r.ExactMatch!.Value, 12);
        Assert.Equal([0.8, 0.2], r.Depths!);
        Assert.Equal(["0.2", "0.8"], r.ByDepth!.Keys);
        Assert.Equal((rouge[1] + rouge[3]) / 2, r.ByDepth["0.2"].Accuracy, 12);
        Assert.Equal((rouge[0] + rouge[2]) / 2, r.ByDepth["0.8"].Accuracy, 12);
        Assert.Equal(["180", "260"], r.ByLength.Keys);
        Assert.Equal([(180, (double?)0.2), (180, 0.8), (260, 0.2), (260, 0.8)], r.Grid.Select(c => (c.Length, c.Depth)));
        Assert.Equal([rouge[3], rouge[2], rouge[1], rouge[0]], r.Grid.Select(c => c.Accuracy));
        // Nothing teacher-forced: no perplexity fields (not NaN from 0 / 0).
        Assert.Null(r.PerplexityNats);
        Assert.Null(r.Perplexity);
        Assert.Null(r.BitsPerByte);
    }

    /// <summary>
    /// SnapKV under `context` keeps a quarter of the context (rounded up) plus the question, and peaks at the whole
    /// context: niah questions name different places, so the samples of one length keep different byte counts, and the
    /// bench reports their mean, per length and overall.
    /// </summary>
    [Fact]
    public void Kept_and_peak_kv_bytes_are_the_mean_over_the_samples_of_a_length()
    {
        var m = Stories.Value;
        var task = TaskRegistry.Create("niah");
        var o = new TaskOptions { Lengths = [180], Depths = [0.5], Samples = 3, Seed = 4, HaystackPath = TestPaths.MobyDick };
        var r = BenchRunner.Run(m, task, o, new PolicyCacheFactory("snapkv", KvBudget.Parse("0.25"), CompressMode.Context));
        long perPosition = FullBytes(m.Spec, 1);
        var samples = task.Generate(m.Tokenizer, o);
        var kept = samples.Select(s => ((s.ContextEnd!.Value + 3) / 4 + s.Tokens.Length - s.ContextEnd.Value) * perPosition).ToList();
        var peak = samples.Select(s => s.ContextEnd!.Value * perPosition).ToList();
        Assert.True(kept.Distinct().Count() > 1 && peak.Distinct().Count() > 1, "the samples keep the same bytes: a mean could not be told from a min");
        Assert.Equal((long)kept.Average(), r.ByLength["180"].KvBytes);
        Assert.Equal((long)kept.Average(), r.KvBytes);
        Assert.Equal((long)peak.Average(), r.KvPeakBytes);
        Assert.Equal(FullBytes(m.Spec, 180), r.KvBytesFull);
        Assert.Equal(FullBytes(m.Spec, 180), r.ByLength["180"].KvBytesFull);
    }

    [Fact]
    public void A_bench_reports_progress_per_sample_and_stops_when_cancelled()
    {
        var m = Stories.Value;
        var o = new TaskOptions { Lengths = [41, 61], Samples = 1, Seed = 2 };
        var full = new PolicyCacheFactory("full", KvBudget.All, CompressMode.Context);
        var seen = new List<(int, int)>();
        BenchRunner.Run(m, TaskRegistry.Create("copy"), o, full, (done, total) => seen.Add((done, total)));
        Assert.Equal([(1, 2), (2, 2)], seen);
        using var cancel = new CancellationTokenSource();
        seen.Clear();
        Assert.Throws<OperationCanceledException>(() =>
            BenchRunner.Run(m, TaskRegistry.Create("copy"), o, full, (done, total) => { seen.Add((done, total)); cancel.Cancel(); }, cancel.Token));
        Assert.Equal([(1, 2)], seen);
    }

    /// <summary>An answer that is an end-of-sequence token at once: nothing decoded, so no decode rate (not 0 tokens/s).</summary>
    [Fact]
    public void A_bench_whose_answers_end_at_once_reports_no_decode_rate()
    {
        var m = Stories.Value;
        var task = TaskRegistry.Create("passkey");
        var o = new TaskOptions { Lengths = [120], Depths = [0.5], Samples = 1, Seed = 2 };
        var s = task.Generate(m.Tokenizer, o)[0];
        int first = HarnessIndependentCheckTests.GreedyByFullForwards(m, s.Tokens, 1)[0];
        var ending = new LoadedModel(m.Path, m.Format, m.Transformer, new HarnessIndependentCheckTests.EosAt(m.Tokenizer, first));   // shares m's weights: not disposed
        var r = BenchRunner.Run(ending, task, o, new PolicyCacheFactory("full", KvBudget.All, CompressMode.Context));
        Assert.Equal("", r.Answers![0].Output);
        Assert.Null(r.DecodeTps);
        Assert.True(r.PrefillTps > 0);
        // The prefill rate is tokens over the prefill's own time, so at least tokens over the whole run's (rounded to 0.1).
        Assert.True(r.PrefillTps >= Math.Round(120 / r.WallSeconds!.Value, 1) - 0.1, $"prefill {r.PrefillTps} tokens/s, wall {r.WallSeconds} s");
    }
}
