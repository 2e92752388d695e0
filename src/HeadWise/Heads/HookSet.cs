using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Heads;

/// <summary>
/// Hooks by hook point name. A hook receives the activation and returns it (observe: the run stays bit-identical)
/// or a replacement of the same shape (intervene). Hooks on one point run in the order they were added.
/// Scores and pattern hooks may name the heads they need; the forward pass then builds only those heads' maps.
/// </summary>
public sealed class HookSet : IForwardHooks
{
    private sealed record Entry(Func<Tensor, Tensor> Hook, IReadOnlyList<int>? Heads);

    private readonly Dictionary<string, List<Entry>> _hooks = [];
    private readonly Dictionary<string, HookPoint> _points = [];
    // Per layer: the heads the scores/pattern hooks need (sorted union), or null when one of them needs all heads.
    private readonly Dictionary<int, List<int>?> _patternHeads = [];

    /// <summary>An empty set.</summary>
    public HookSet() { }

    /// <summary>Adds <paramref name="hook"/> at <paramref name="name"/> (checked against the hook-point table; a typo lists the near names).</summary>
    public HookSet Add(string name, Func<Tensor, Tensor> hook) => AddEntry(name, new Entry(hook, null));

    /// <summary>
    /// A hook on <c>hook_attn_scores</c> or <c>hook_pattern</c> that sees only <paramref name="heads"/>: [B, heads.Count, T, S]
    /// in the order given. A replacement it returns is written back into those heads only.
    /// </summary>
    public HookSet AddForHeads(string name, IReadOnlyList<int> heads, Func<Tensor, Tensor> hook)
    {
        var point = HookPoint.Parse(name);
        if (!point.IsAttentionMap) throw new HeadWiseException($"'{name}': only hook_attn_scores and hook_pattern hooks can ask for a subset of heads");
        if (heads.Count == 0 || heads.Any(h => h < 0)) throw new HeadWiseException($"'{name}': head list must be non-empty and non-negative");
        return AddEntry(name, new Entry(hook, heads.ToArray()));
    }

    /// <summary>Registers an intervention's hooks.</summary>
    public HookSet Add(Interventions.IIntervention intervention)
    {
        intervention.Register(this);
        return this;
    }

    /// <summary>A new set with the same hooks (adding to it leaves this one unchanged).</summary>
    public HookSet Copy()
    {
        var copy = new HookSet();
        foreach (var (name, entries) in _hooks)
            foreach (var e in entries) copy.AddEntry(name, e);
        return copy;
    }

    /// <summary>The hook points with hooks.</summary>
    public IEnumerable<string> Names => _hooks.Keys;

    /// <inheritdoc/>
    public bool Wants(string hookName) => _hooks.ContainsKey(hookName);

    /// <inheritdoc/>
    public IReadOnlyList<int>? PatternHeads(int layer) => _patternHeads.TryGetValue(layer, out var heads) ? heads : null;

    /// <inheritdoc/>
    public Tensor Apply(string hookName, Tensor activation)
    {
        var x = activation;
        var point = _points[hookName];
        var available = point.IsAttentionMap ? PatternHeads(point.Layer!.Value) : null;
        foreach (var e in _hooks[hookName])
        {
            if (e.Heads is null) { x = e.Hook(x); continue; }
            // Where this hook's heads sit in the tensor the forward pass built (all heads, or the union asked for).
            var at = torch.tensor(e.Heads.Select(h => (long)(available is null ? h : available.ToList().IndexOf(h))).ToArray());
            var part = x.index_select(1, at);
            var replaced = e.Hook(part);
            if (!ReferenceEquals(replaced, part)) x = x.index_copy(1, at, replaced);
        }
        return x;
    }

    private HookSet AddEntry(string name, Entry entry)
    {
        var point = HookPoint.Parse(name);
        _points[name] = point;
        if (!_hooks.TryGetValue(name, out var list)) _hooks[name] = list = [];
        list.Add(entry);
        if (point.IsAttentionMap) UpdatePatternHeads(point.Layer!.Value);
        return this;
    }

    private void UpdatePatternHeads(int layer)
    {
        var names = HookNames.ForLayer(layer);
        var entries = new[] { names.Scores, names.Pattern }.SelectMany(n => _hooks.TryGetValue(n, out var es) ? es : []).ToList();
        _patternHeads[layer] = entries.Any(e => e.Heads is null) ? null : entries.SelectMany(e => e.Heads!).Distinct().Order().ToList();
    }
}
