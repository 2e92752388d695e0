using HeadWise.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Heads.Interventions;

/// <summary>
/// Changes the attention one query head pays to chosen key positions (absolute, e.g. 0 for the first token) and
/// renormalises each row: either scales those weights, or sets them to a value and rescales the other keys so the row
/// still sums to 1. Only keys a query can see are touched (causal models). Only this head's pattern is built.
/// </summary>
public sealed class AttentionToPositions : IIntervention
{
    private readonly int _layer, _head;
    private readonly long[] _positions;
    private readonly double? _scale, _set;
    private readonly bool _causal;

    private AttentionToPositions(int layer, int head, IEnumerable<long> positions, double? scale, double? set, bool causal)
    {
        _layer = layer; _head = head; _positions = positions.ToArray(); _scale = scale; _set = set; _causal = causal;
        if (_positions.Length == 0 || _positions.Any(p => p < 0)) throw new HeadWiseException("attention positions must be a non-empty list of non-negative positions");
        if (set is < 0 or > 1) throw new HeadWiseException($"attention weight {set} must be in [0, 1]");
        if (scale is < 0) throw new HeadWiseException($"attention scale {scale} must be non-negative");
    }

    /// <summary>Multiplies head <paramref name="head"/>'s attention to <paramref name="positions"/> by <paramref name="factor"/>, then renormalises each row.</summary>
    public static AttentionToPositions Scale(int layer, int head, IEnumerable<long> positions, double factor, bool causal = true) =>
        new(layer, head, positions, factor, null, causal);

    /// <summary>Sets head <paramref name="head"/>'s attention to <paramref name="positions"/> to <paramref name="weight"/> and rescales the other keys so rows sum to 1.</summary>
    public static AttentionToPositions Set(int layer, int head, IEnumerable<long> positions, double weight, bool causal = true) =>
        new(layer, head, positions, null, weight, causal);

    /// <inheritdoc/>
    public void Register(HookSet hooks) => hooks.AddForHeads(HookNames.ForLayer(_layer).Pattern, [_head], Edit);

    private Tensor Edit(Tensor p) // [B, 1, T, S]
    {
        long t = p.shape[2], s = p.shape[3], start = s - t; // queries are the last T of the S positions
        var chosen = torch.zeros(s, ScalarType.Bool);
        foreach (var pos in _positions.Where(pos => pos < s)) chosen[pos] = true;
        var target = chosen.unsqueeze(0).expand(t, s);
        if (_causal) target = target.logical_and(torch.arange(s).unsqueeze(0).le(torch.arange(start, start + t).unsqueeze(1)));
        if (_scale is { } f)
        {
            var scaled = torch.where(target, p * f, p);
            return scaled / scaled.sum(-1, keepdim: true);
        }
        var setRows = torch.where(target, torch.full_like(p, _set!.Value), torch.zeros_like(p)).sum(-1, keepdim: true);
        var others = torch.where(target, torch.zeros_like(p), p).sum(-1, keepdim: true);
        var rescale = (1 - setRows) / others.clamp_min(HeldScalars.ProbabilityFloor);
        return torch.where(target, torch.full_like(p, _set.Value), p * rescale);
    }
}
