using System.Diagnostics;
using System.Globalization;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Eval;

/// <summary>Evaluates (model, task, policy, budget) over a task's grid and aggregates the scores and costs.</summary>
public static class BenchRunner
{
    /// <summary>
    /// Checks the grid against the model before any work: lengths (and the answer after them) within context, depths in
    /// [0, 1], samples >= 1, and a compression point the task has.
    /// </summary>
    /// <param name="limit">The longest sequence the policy runs (<see cref="IKvCacheFactory.LengthLimit"/>; default the model's context).</param>
    public static void Validate(ModelSpec spec, IEvalTask task, TaskOptions o, CompressMode compress = CompressMode.Chunked, long? limit = null)
    {
        if (!task.HasContext && compress != CompressMode.Chunked)
            throw new HeadWiseException($"task {task.Name} scores every token as it streams in and has no context to compress once; use --compress chunked");
        if (o.Lengths.Count == 0) throw new HeadWiseException("give at least one length");
        long max = limit ?? spec.ContextLength;
        string what = max > spec.ContextLength ? $"this policy's limit of {max} tokens" : $"the model's context of {spec.ContextLength} tokens";
        foreach (var l in o.Lengths)
        {
            if (l < 1) throw new HeadWiseException($"length {l} must be >= 1 token");
            if (l > max)
                throw new HeadWiseException($"length {l} exceeds {what}");
            // A prompt that fills the context leaves the answer no position to be generated at.
            if (l + task.AnswerTokens > max)
                throw new HeadWiseException($"length {l} leaves no room for the answer: task {task.Name} generates up to {task.AnswerTokens} tokens " +
                                            $"and the limit is {what}; use prompts of at most {max - task.AnswerTokens} tokens");
        }
        if (task.HasDepth)
        {
            if (o.Depths.Count == 0) throw new HeadWiseException($"task {task.Name} needs at least one depth");
            foreach (var d in o.Depths)
                if (!(d >= 0 && d <= 1)) throw new HeadWiseException($"depth {d.ToString(CultureInfo.InvariantCulture)} is outside [0, 1]");
        }
        if (o.Samples < 1) throw new HeadWiseException($"samples must be >= 1, got {o.Samples}");
    }

    /// <param name="hooks">Interventions (null: the plain model), on the forward calls <paramref name="hookPhase"/> names.</param>
    public static BenchResult Run(LoadedModel model, IEvalTask task, TaskOptions o, IKvCacheFactory factory,
        Action<int, int>? onSample = null, CancellationToken cancel = default, Heads.IForwardHooks? hooks = null,
        HookPhase hookPhase = HookPhase.Everywhere)
    {
        Validate(model.Spec, task, o, factory.Compress, factory.LengthLimit(model.Spec));
        var wall = Stopwatch.StartNew();
        long rssBefore = ProcessMemory.CurrentRss();
        var samples = task.Generate(model.Tokenizer, o);
        var runner = new SampleRunner(model, hooks: hooks, phase: hookPhase);
        var outcomes = new List<SampleOutcome>(samples.Count);
        foreach (var s in samples)
        {
            cancel.ThrowIfCancellationRequested();
            outcomes.Add(runner.Run(s, factory));
            onSample?.Invoke(outcomes.Count, samples.Count);
        }
        var (prefillTps, decodeTps) = Throughput(outcomes);
        return Aggregate(model, task, o, factory, outcomes) with
        {
            PeakRssBytes = ProcessMemory.PeakRss(),
            RssBeforeBytes = rssBefore,
            RssAfterBytes = ProcessMemory.CurrentRss(),
            PrefillTps = prefillTps,
            DecodeTps = decodeTps,
            WallSeconds = wall.Elapsed.TotalSeconds,
        };
    }

    /// <summary>Prefill and decode tokens per second of a run: all samples' tokens over all their seconds (null with none).</summary>
    internal static (double? Prefill, double? Decode) Throughput(IReadOnlyList<SampleOutcome> xs) =>
        (Rate(xs.Sum(x => x.PrefillTokens), xs.Sum(x => x.PrefillSeconds)), Rate(xs.Sum(x => x.DecodeTokens), xs.Sum(x => x.DecodeSeconds)));

    private static double? Rate(long tokens, double seconds) => tokens > 0 && seconds > 0 ? Math.Round(tokens / seconds, 1) : null;

    /// <summary>The model's name, or its file name when the name is only the architecture ("llama").</summary>
    public static string Label(LoadedModel m) => m.DisplayName;

    public static string Key(double d) => d.ToString("0.###", CultureInfo.InvariantCulture);

    private static BenchResult Aggregate(LoadedModel model, IEvalTask task, TaskOptions o, IKvCacheFactory f, List<SampleOutcome> xs)
    {
        static GroupScore Group(IEnumerable<SampleOutcome> g)
        {
            var l = g.ToList();
            return new GroupScore(l.Count, l.Average(x => x.Score), (long)l.Average(x => x.KvBytes), (long)l.Average(x => x.KvBytesFull));
        }
        bool answers = xs.Any(x => x.Exact is not null);
        long scored = xs.Sum(x => (long)x.ScoredTokens);
        double nll = xs.Sum(x => x.Nll);
        long bytes = xs.Sum(x => x.ScoredBytes);
        return new BenchResult
        {
            Model = Label(model), Task = task.Name, Policy = f.Policy, Budget = f.Budget.Text, Compress = f.Compress.Name(),
            Samples = o.Samples, Seed = o.Seed,
            Accuracy = xs.Average(x => x.Score),
            ExactMatch = answers ? xs.Average(x => x.Exact!.Value) : null,
            Rouge1Recall = answers ? xs.Average(x => x.Rouge!.Value) : null,
            PerplexityNats = scored > 0 ? nll / scored : null,
            Perplexity = scored > 0 ? Metrics.Perplexity(nll, scored) : null,
            BitsPerByte = bytes > 0 ? Metrics.BitsPerByte(nll, bytes) : null,
            KvBytes = (long)xs.Average(x => x.KvBytes),
            KvPeakBytes = (long)xs.Average(x => x.KvPeakBytes),
            KvBytesFull = (long)xs.Average(x => x.KvBytesFull),
            AttendedShare = xs.Sum(x => x.AvailableKeys) > 0 ? (double)xs.Sum(x => x.AttendedKeys) / xs.Sum(x => x.AvailableKeys) : null,
            Lengths = [.. o.Lengths],
            Depths = task.HasDepth ? [.. o.Depths] : null,
            // Dictionaries keep insertion order, so groups appear in numeric order in the JSON.
            ByLength = xs.GroupBy(x => x.Sample.Length).OrderBy(g => g.Key).ToDictionary(g => g.Key.ToString(CultureInfo.InvariantCulture), Group),
            ByDepth = task.HasDepth ? xs.GroupBy(x => x.Sample.Depth!.Value).OrderBy(g => g.Key).ToDictionary(g => Key(g.Key), Group) : null,
            Grid = [.. xs.GroupBy(x => (x.Sample.Length, x.Sample.Depth)).OrderBy(g => g.Key.Length).ThenBy(g => g.Key.Depth)
                .Select(g => new GridCell(g.Key.Length, g.Key.Depth, g.Count(), g.Average(x => x.Score)))],
            Answers = answers ? [.. xs.Select(x => new PromptAnswer(x.Sample.Length, x.Sample.Depth, x.Sample.Answer!, x.Output!, x.Score))] : null,
        };
    }
}
