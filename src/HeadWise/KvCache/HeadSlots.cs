namespace HeadWise.KvCache;

/// <summary>
/// One KV head's slots: rows [0, <see cref="Used"/>) of its group's K/V tensors, each with its original position (keys
/// keep their RoPE) and statistics, in no particular order (attention does not care). A decode step that evicts one slot
/// leaves it as the <see cref="Hole"/> the next appended row is written into, so decoding never shifts rows.
/// </summary>
internal sealed class HeadSlots(bool cumulative)
{
    public long[] Positions = [];
    public double[]? Cumulative = cumulative ? [] : null;
    public int Used;
    /// <summary>An evicted slot inside [0, Used) waiting for the next row, or -1.</summary>
    public int Hole = -1;

    /// <summary>Slots that hold kept positions.</summary>
    public int Count => Used - (Hole >= 0 ? 1 : 0);

    /// <summary>The slot the next appended row goes to.</summary>
    public int NextSlot => Hole >= 0 ? Hole : Used;

    public void EnsureArrays(long capacity)
    {
        if (Positions.Length >= capacity) return;
        Array.Resize(ref Positions, (int)capacity);
        if (Cumulative is not null) Array.Resize(ref Cumulative, (int)capacity);
    }

    /// <summary>Records a row written at <see cref="NextSlot"/> for <paramref name="position"/>.</summary>
    public void Filled(long position)
    {
        int s = NextSlot;
        Positions[s] = position;
        if (Cumulative is not null) Cumulative[s] = 0;
        if (Hole >= 0) Hole = -1; else Used++;
    }

    /// <summary>Kept slots in ascending slot order.</summary>
    public int[] KeptSlots() => Enumerable.Range(0, Used).Where(i => i != Hole).ToArray();
}
