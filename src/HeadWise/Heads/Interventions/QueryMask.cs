using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Heads.Interventions;

/// <summary>
/// The Retrieval Head paper's head mask (Wu et al. 2024, its released needle_in_haystack_with_mask.py): the query head's
/// query after RoPE is set to zero, so every score q·k is 0 and the head attends uniformly to the keys it sees; its
/// output is the mean of those values. Unlike <see cref="HeadAblation"/>, the head still writes to the residual. Under
/// a positional bias on the scores (ALiBi) the weights follow the bias instead.
/// </summary>
public sealed class QueryMask(int layer, int head) : IIntervention
{
    /// <inheritdoc/>
    public void Register(HookSet hooks) => hooks.Add(HookNames.ForLayer(layer).RotQ, q =>
    {
        if (head < 0 || head >= q.shape[2]) throw new HeadWiseException($"head {head} is out of range: layer {layer} has {q.shape[2]} query heads");
        var r = q.clone();
        using var slot = r.select(2, head);
        slot.zero_();
        return r;
    });
}
