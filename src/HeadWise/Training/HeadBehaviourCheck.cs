using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Training;

/// <summary>One head's behaviour on the probe tasks: retrieval score, attention mass on BOS (sink), on the last 16 tokens (local) and on the previous token.</summary>
public sealed record HeadBehaviour(int Layer, int Head, double Retrieval, double Sink, double Local, double Previous)
{
    /// <summary>Wu et al. (2024) call a head a retrieval head from a score of 0.1.</summary>
    public const double RetrievalThreshold = 0.1;
    /// <summary>A sink head by the ε rule of Gu et al. (2025).</summary>
    public const double SinkThreshold = SinkMeter.Epsilon;
    /// <summary>Local: at least half the attention on the last 16 tokens; previous-token: at least half on the token before.</summary>
    public const double LocalThreshold = 0.5, PreviousThreshold = 0.5;

    public bool IsRetrieval => Retrieval >= RetrievalThreshold;
    public bool IsSink => Sink >= SinkThreshold;
    public bool IsLocal => Local >= LocalThreshold;
    public bool IsPrevious => Previous >= PreviousThreshold;
}

/// <summary>How many heads of each kind a census found (a head may be of several kinds, or of none).</summary>
public sealed record HeadCensus(int Heads, int Retrieval, int Sink, int Local, int Previous)
{
    public static HeadCensus Of(IReadOnlyList<HeadBehaviour> heads) => new(heads.Count, heads.Count(h => h.IsRetrieval),
        heads.Count(h => h.IsSink), heads.Count(h => h.IsLocal), heads.Count(h => h.IsPrevious));
}

/// <summary>
/// A census of what the trained heads do, for the model card, on passkey and needle prompts of every style built from
/// held-out text. Retrieval follows Wu et al. (2024): at each answer position, a head scores a hit when its most-attended
/// key lies more than 32 tokens back and holds the very token being produced (it copies from the needle); the score is
/// the share of answer tokens hit. Sink, local and previous-token masses are averaged over queries past the first 16.
/// </summary>
internal static class HeadBehaviourCheck
{
    private static readonly (SampleKind Kind, NeedleStyle Style)[] Prompts =
        [(SampleKind.Passkey, NeedleStyle.MagicNumber), (SampleKind.Niah, NeedleStyle.Keyed), (SampleKind.Niah, NeedleStyle.Fact), (SampleKind.Niah, NeedleStyle.MagicNumber)];

    public static IReadOnlyList<HeadBehaviour> Run(Transformer model, LongContextTasks heldOutTasks, int length, int samples, int seed)
    {
        var spec = model.Spec;
        var hits = new double[spec.Layers, spec.Heads];
        var sink = new double[spec.Layers, spec.Heads];
        var local = new double[spec.Layers, spec.Heads];
        var previous = new double[spec.Layers, spec.Heads];
        int answers = 0, runs = 0;
        for (int i = 0; i < samples; i++)
        {
            var (kind, style) = Prompts[i % Prompts.Length];
            var s = heldOutTasks.Make(kind, new Random(seed + 101 * i), length, style);
            if (s is null) continue;
            var queries = s.AnswerPositions();
            answers += queries.Length;
            runs++;
            var hooks = new Capture(spec, s.Tokens, queries, hits, sink, local, previous);
            using var scope = torch.NewDisposeScope();
            using var _ = torch.no_grad();
            model.Forward(torch.tensor(s.Tokens[..^1].Select(t => (long)t).ToArray(), [1, length - 1]), hooks: hooks);
        }
        var result = new List<HeadBehaviour>();
        for (int l = 0; l < spec.Layers; l++)
            for (int h = 0; h < spec.Heads; h++)
                result.Add(new HeadBehaviour(l, h, answers == 0 ? 0 : hits[l, h] / answers, runs == 0 ? 0 : sink[l, h] / runs, runs == 0 ? 0 : local[l, h] / runs, runs == 0 ? 0 : previous[l, h] / runs));
        return result;
    }

    private sealed class Capture(ModelSpec spec, int[] tokens, int[] queries, double[,] hits, double[,] sink, double[,] local, double[,] previous) : IForwardHooks
    {
        private readonly Dictionary<string, int> _layers = Enumerable.Range(0, spec.Layers).ToDictionary(l => HookNames.ForLayer(l).Pattern, l => l);

        public bool Wants(string hookName) => _layers.ContainsKey(hookName);

        public Tensor Apply(string hookName, Tensor pattern)
        {
            int l = _layers[hookName];
            using var scope = torch.NewDisposeScope();
            var p = pattern[0];                                   // [H, T, S]
            long t = p.shape[1];
            // Sink and locality over queries past the first 16 positions.
            var sinkMass = p.narrow(1, 16, t - 16).select(2, 0).mean([1]).data<float>().ToArray();
            var band = torch.ones(t, t).tril().sub(torch.ones(t, t).tril(-16));   // keys t-15..t
            var localMass = (p * band).sum(2).narrow(1, 16, t - 16).mean([1]).data<float>().ToArray();
            var prevMass = p.diagonal(offset: -1, dim1: 1, dim2: 2).narrow(1, 15, t - 16).mean([1]).data<float>().ToArray();
            for (int h = 0; h < spec.Heads; h++) { sink[l, h] += sinkMass[h]; local[l, h] += localMass[h]; previous[l, h] += prevMass[h]; }
            if (queries.Length > 0)
            {
                var top = p.index_select(1, torch.tensor(queries.Select(q => (long)q).ToArray())).argmax(-1).data<long>().ToArray(); // [H * Q]
                for (int h = 0; h < spec.Heads; h++)
                    for (int j = 0; j < queries.Length; j++)
                    {
                        long k = top[h * queries.Length + j];
                        int q = queries[j];
                        if (k < q - 32 && tokens[k] == tokens[q + 1]) hits[l, h]++;
                    }
            }
            return pattern;
        }
    }
}
