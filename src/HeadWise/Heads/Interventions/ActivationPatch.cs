using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Heads.Interventions;

/// <summary>
/// Replaces a hook point's activation with the same point's activation from another run (whole, or only some heads and/or
/// some positions). <paramref name="source"/> must have the shape this run produces there.
/// </summary>
public sealed class ActivationPatch(string name, Tensor source, IReadOnlyList<int>? heads = null, IReadOnlyList<long>? positions = null) : IIntervention
{
    private readonly HookPoint _point = HookPoint.Parse(name);

    /// <summary>Patches <paramref name="name"/> from a cache that captured it whole.</summary>
    public static ActivationPatch From(ActivationCache cache, string name, IReadOnlyList<int>? heads = null, IReadOnlyList<long>? positions = null) =>
        new(name, cache[name], heads, positions);

    /// <inheritdoc/>
    public void Register(HookSet hooks)
    {
        if (heads is not null && _point.HeadAxis is null) throw new HeadWiseException($"'{name}' has no head axis to patch by head");
        hooks.Add(name, Patch);
    }

    private Tensor Patch(Tensor x)
    {
        if (!x.shape.SequenceEqual(source.shape))
            throw new HeadWiseException($"patch '{name}': source shape [{string.Join(", ", source.shape)}] differs from this run's [{string.Join(", ", x.shape)}]");
        if (heads is null && positions is null) return source.clone();
        var maskShape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
        var mask = torch.ones(maskShape, ScalarType.Bool);
        if (heads is not null) mask = mask.logical_and(AxisMask(x, _point.HeadAxis!.Value, heads.Select(h => (long)h)));
        if (positions is not null) mask = mask.logical_and(AxisMask(x, _point.PositionAxis, positions));
        return torch.where(mask, source, x);
    }

    private static Tensor AxisMask(Tensor x, int axis, IEnumerable<long> indices)
    {
        var m = torch.zeros(x.shape[axis], ScalarType.Bool);
        foreach (var i in indices)
        {
            if (i < 0 || i >= x.shape[axis]) throw new HeadWiseException($"index {i} is out of range for an axis of size {x.shape[axis]}");
            m[i] = true;
        }
        var shape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
        shape[axis] = x.shape[axis];
        return m.view(shape);
    }
}
