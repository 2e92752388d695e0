using HeadWise.Heads;
using HeadWise.Models;
using HeadWise.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Analysis;

/// <summary>
/// What every score works from: the model, its tokenizer, the probe documents (token ids of equal length), a seed, and
/// optional extra hooks applied to every run a score makes (tests use them to construct heads with known behaviour).
/// Attention patterns of the probes are captured once and shared by the scores that read them.
/// </summary>
public sealed class ProfileContext : IDisposable
{
    private List<Tensor[]>? _patterns;
    private readonly Dictionary<string, HeadMap> _maps = [];

    public ProfileContext(Transformer model, ITokenizer? tokenizer, IReadOnlyList<int[]> probes, int seed = 0, HookSet? hooks = null, Action<string>? progress = null)
    {
        if (probes.Count == 0) throw new HeadWiseException("no probe documents: give a probe text with enough tokens");
        if (probes.Any(p => p.Length != probes[0].Length || p.Length < 2))
            throw new HeadWiseException($"probe documents must all have the same length (>= 2 tokens); got lengths {string.Join(", ", probes.Select(p => p.Length).Distinct())}");
        Model = model; Tokenizer = tokenizer; Probes = probes; Seed = seed; Hooks = hooks; ProgressSink = progress;
    }

    public Transformer Model { get; }
    public ModelSpec Spec => Model.Spec;
    public ITokenizer? Tokenizer { get; }
    public IReadOnlyList<int[]> Probes { get; }
    public int Seed { get; }
    public HookSet? Hooks { get; }
    public Action<string>? ProgressSink { get; }

    public void Progress(string message) => ProgressSink?.Invoke(message);

    /// <summary>Keeps a computed map for scores that build on another (AttentionInfluence masks the retrieval heads).</summary>
    public void Remember(HeadMap map) => _maps[map.Name] = map;

    /// <summary>A map computed earlier on this context, or <paramref name="compute"/>'s (then remembered).</summary>
    public HeadMap MapOrCompute(string name, Func<HeadMap> compute)
    {
        if (!_maps.TryGetValue(name, out var map)) Remember(map = compute());
        return map;
    }

    /// <summary>A copy of the extra hooks (or an empty set) to add a score's own hooks to.</summary>
    public HookSet NewHooks() => Hooks?.Copy() ?? new HookSet();

    /// <summary>Probe documents as one batch [N, T] int64.</summary>
    public Tensor ProbeBatch() => torch.tensor(Probes.SelectMany(p => p.Select(t => (long)t)).ToArray(), [Probes.Count, Probes[0].Length]);

    /// <summary>Per probe document, per layer: the attention pattern [H, T, T] (captured once, shared).</summary>
    public IReadOnlyList<Tensor[]> Patterns
    {
        get
        {
            if (_patterns is not null) return _patterns;
            _patterns = [];
            var captures = Enumerable.Range(0, Spec.Layers).Select(l => new CaptureSpec(HookNames.ForLayer(l).Pattern)).ToList();
            foreach (var doc in Probes)
            {
                using var scope = torch.NewDisposeScope();
                using var ids = torch.tensor(doc.Select(t => (long)t).ToArray(), [1, doc.Length]);
                var (logits, cache) = Model.RunWithCache(ids, captures, Hooks);
                using (cache)
                    _patterns.Add(Enumerable.Range(0, Spec.Layers).Select(l => cache[HookNames.ForLayer(l).Pattern][0].clone().DetachFromDisposeScope()).ToArray());
            }
            return _patterns;
        }
    }

    public void Dispose()
    {
        if (_patterns is null) return;
        foreach (var t in _patterns.SelectMany(p => p)) t.Dispose();
        _patterns = null;
    }
}
