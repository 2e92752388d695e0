using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Heads.Interventions;

/// <summary>
/// Removes a query head's contribution by replacing its hook_z (its output before W_O) with zeros or with its mean over a
/// reference run's batch and positions. The attention output bias, shared by all heads, stays.
/// </summary>
public sealed class HeadAblation : IIntervention
{
    private readonly int _layer, _head;
    private readonly Tensor? _mean; // [d], null = zero

    private HeadAblation(int layer, int head, Tensor? mean) { _layer = layer; _head = head; _mean = mean; }

    /// <summary>Zero ablation of query head <paramref name="head"/> of <paramref name="layer"/>.</summary>
    public static HeadAblation Zero(int layer, int head) => new(layer, head, null);

    /// <summary>Mean ablation; <paramref name="reference"/> must hold the layer's whole hook_z [B, T, H, d].</summary>
    public static HeadAblation Mean(int layer, int head, ActivationCache reference)
    {
        var z = reference[HookNames.ForLayer(layer).Z];
        if (head < 0 || head >= z.shape[2]) throw new HeadWiseException($"head {head} is out of range: the captured hook_z has {z.shape[2]} heads");
        using var scope = torch.NewDisposeScope();
        return new HeadAblation(layer, head, z.select(2, head).mean([0, 1]).DetachFromDisposeScope());
    }

    /// <inheritdoc/>
    public void Register(HookSet hooks) => hooks.Add(HookNames.ForLayer(_layer).Z, z =>
    {
        var r = z.clone();
        using var slot = r.select(2, _head);
        if (_mean is null) slot.zero_(); else slot.copy_(_mean);
        return r;
    });
}
