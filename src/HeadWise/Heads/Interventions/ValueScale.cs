namespace HeadWise.Heads.Interventions;

/// <summary>
/// Multiplies the value vectors of a KV head (hook_v, before the cache) by a factor. Under GQA a KV head serves a group of
/// query heads; to scale the values one query head reads, use <see cref="HeadOutputScale"/> (z is linear in v).
/// </summary>
public sealed class ValueScale(int layer, int kvHead, double factor) : IIntervention
{
    /// <inheritdoc/>
    public void Register(HookSet hooks) => hooks.Add(HookNames.ForLayer(layer).V, v =>
    {
        var r = v.clone();
        using var slot = r.select(2, kvHead);
        slot.mul_(factor);
        return r;
    });
}
