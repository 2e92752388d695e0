using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Heads;

/// <summary>
/// What the forward pass asks of hooks at each named hook point (TransformerLens names, see <see cref="HookNames"/>).
/// The forward pass computes an activation that only hooks need (patterns, per-head results) only when
/// <see cref="Wants"/> says so, and a hook that returns its input unchanged leaves the run bit-identical.
/// </summary>
public interface IForwardHooks
{
    /// <summary>True when some hook is registered at this point (cheap; called on the hot path).</summary>
    bool Wants(string hookName);

    /// <summary>Gives the activation to the hooks; returns it or a replacement of the same shape.</summary>
    Tensor Apply(string hookName, Tensor activation);

    /// <summary>
    /// The query heads of <paramref name="layer"/> whose scores and pattern the hooks need, in the order their tensors hold
    /// them ([B, heads.Count, T, S]); null for all heads. The other heads keep the fused kernel and are never materialised.
    /// </summary>
    IReadOnlyList<int>? PatternHeads(int layer) => null;
}
