using HeadWise.Heads;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Training;

/// <summary>One head's behaviour on the probe tasks: retrieval score, attention mass on BOS (sink), on the last 16 tokens (local) and on the previous token.</summary>
public sealed record HeadBehaviour(int Layer, int Head, double Retrieval, double Sink, double Local, double Previous);

/// <summary>
/// A quick look at what the trained heads do, for the model card (the atlas commands score heads properly).
/// Retrieval follows Wu et al. (2024): at each answer position, a head scores a hit when its most-attended key lies
/// more than 32 tokens back and holds the very token being produced (it copies from the needle).
/// </summary>
public static class HeadBehaviourCheck
{
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
            var kind = i % 2 == 0 ? SampleKind.Passkey : SampleKind.Niah;
            var s = heldOutTasks.Make(kind, new Random(seed + 101 * i), length, niahStyle: 0);
            if (s is null) continue;
            var queries = Enumerable.Range(0, s.Weights.Length).Where(t => s.Weights[t] != 1f).ToArray();
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
