namespace HeadWise.Heads.Interventions;

/// <summary>Multiplies a query head's output (its hook_z, hence its hook_result) by a factor.</summary>
public sealed class HeadOutputScale(int layer, int head, double factor) : IIntervention
{
    /// <inheritdoc/>
    public void Register(HookSet hooks) => hooks.Add(HookNames.ForLayer(layer).Z, z =>
    {
        var r = z.clone();
        using var slot = r.select(2, head);
        slot.mul_(factor);
        return r;
    });
}
