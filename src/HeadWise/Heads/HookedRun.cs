using HeadWise.KvCache;
using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Heads;

/// <summary>
/// TransformerLens's run_with_cache and run_with_hooks for <see cref="Transformer"/>. Both work on a prompt or, with a
/// <see cref="FullKvCache"/>, on one incremental decoding step (positions are then this call's tokens).
/// </summary>
public static class HookedRun
{
    /// <summary>
    /// Runs <paramref name="tokens"/> [B, T] capturing only what <paramref name="captures"/> names (plus any
    /// <paramref name="hooks"/>, which run first). Capturing alone leaves the logits bit-identical to an unhooked run.
    /// </summary>
    public static (Tensor Logits, ActivationCache Cache) RunWithCache(this Transformer model, Tensor tokens, IEnumerable<CaptureSpec> captures,
        HookSet? hooks = null, IKvCache? kvCache = null)
    {
        var cache = new ActivationCache();
        var set = hooks?.Copy() ?? new HookSet(); // the caller's set is left as it was
        try
        {
            foreach (var spec in captures) AddCapture(model.Spec, set, cache, spec);
            var logits = model.Forward(tokens, kvCache, set);
            return (logits, cache);
        }
        catch
        {
            cache.Dispose();
            throw;
        }
    }

    /// <summary>Runs with every hook point captured whole (small models and tests; large models should name what they need).</summary>
    public static (Tensor Logits, ActivationCache Cache) RunWithFullCache(this Transformer model, Tensor tokens, IKvCache? kvCache = null) =>
        model.RunWithCache(tokens, _ => true, kvCache: kvCache);

    /// <summary>
    /// Runs capturing every hook point whose name <paramref name="namesFilter"/> accepts (TransformerLens's
    /// <c>names_filter</c>), e.g. <c>name =&gt; name.EndsWith("attn.hook_pattern")</c>.
    /// </summary>
    public static (Tensor Logits, ActivationCache Cache) RunWithCache(this Transformer model, Tensor tokens, Func<string, bool> namesFilter,
        HookSet? hooks = null, IKvCache? kvCache = null) =>
        model.RunWithCache(tokens, model.HookPointNames().Where(namesFilter).Select(n => new CaptureSpec(n)), hooks, kvCache);

    /// <summary>The hook points this model's forward pass calls, in forward order.</summary>
    public static IEnumerable<string> HookPointNames(this Transformer model) =>
        HookNames.All(model.Spec.Layers)
            .Where(n => model.Spec.Positions == PositionKind.Learned || n != HookNames.PosEmbed)
            .Where(n => model.Spec.Causal || (n != HookNames.FinalScale && n != HookNames.FinalNormalized && n != HookNames.UnembedOut));

    /// <summary>Runs with <paramref name="hooks"/>, which may read and replace activations.</summary>
    public static Tensor RunWithHooks(this Transformer model, Tensor tokens, HookSet hooks, IKvCache? kvCache = null) =>
        model.Forward(tokens, kvCache, hooks);

    private static void AddCapture(ModelSpec spec, HookSet set, ActivationCache cache, CaptureSpec c)
    {
        var point = HookPoint.Parse(c.Name, spec.Layers);
        if (c.Heads is { } heads)
        {
            if (point.HeadAxis is null) throw new HeadWiseException($"'{c.Name}' has no head axis; capture it without heads");
            int n = point.HoldsKvHeads ? spec.KvHeads : spec.Heads;
            if (heads.Count == 0 || heads.Any(h => h < 0 || h >= n))
                throw new HeadWiseException($"'{c.Name}': heads [{string.Join(", ", heads)}] must be non-empty and in 0..{n - 1}");
        }
        if (c.PositionStart < 0 || c.PositionCount is < 1)
            throw new HeadWiseException($"'{c.Name}': position range start {c.PositionStart}, count {c.PositionCount} is invalid");

        Tensor Store(Tensor x)
        {
            using var scope = torch.NewDisposeScope();
            var part = x;
            long t = x.shape[point.PositionAxis];
            long count = c.PositionCount ?? t - c.PositionStart;
            if (c.PositionStart + count > t)
                throw new HeadWiseException($"'{c.Name}': positions {c.PositionStart}..{c.PositionStart + count - 1} exceed this call's {t} positions");
            if (c.PositionStart != 0 || count != t) part = part.narrow(point.PositionAxis, c.PositionStart, count);
            if (c.Heads is { } hs && !point.IsAttentionMap) part = part.index_select(point.HeadAxis!.Value, torch.tensor(hs.Select(h => (long)h).ToArray()));
            cache.Store(c.Name, part.detach().clone().DetachFromDisposeScope());
            return x; // observe only: the same object, so the run stays bit-identical
        }

        if (point.IsAttentionMap && c.Heads is { } mapHeads) set.AddForHeads(c.Name, mapHeads, Store);
        else set.Add(c.Name, Store);
    }
}
