using static TorchSharp.torch;

namespace HeadWise.Prefill;

/// <summary>
/// Attention computed only over chosen key segments. Each (head, query segment) pair attends its selected earlier
/// segments and its own segment (causally); <see cref="BlockSparseKernel"/> computes exactly those, so the work follows
/// the selection. With every causal segment selected it is dense causal attention.
/// </summary>
public static class BlockSparseAttention
{
    /// <param name="q">[1, H, T, d], queries at positions S - T .. S - 1.</param>
    /// <param name="k">[1, KvH, S, d] keys (RoPE applied).</param>
    /// <param name="v">[1, KvH, S, d] values.</param>
    /// <param name="bounds">Segment boundaries 0 = b0 &lt; ... &lt; bn = S.</param>
    /// <param name="selected">[H, nQ, n] bool: the last nQ segments hold the queries; a pair's own segment is attended whatever it says.</param>
    public static Tensor Attend(Tensor q, Tensor k, Tensor v, long[] bounds, Tensor selected)
    {
        int h = (int)q.shape[1], n = bounds.Length - 1, nq = (int)selected.shape[1];
        var sel = selected.to_type(ScalarType.Bool).contiguous().data<bool>().ToArray();
        var attended = new int[h][][];
        for (int head = 0; head < h; head++)
        {
            attended[head] = new int[nq][];
            for (int qi = 0; qi < nq; qi++)
            {
                long row = ((long)head * nq + qi) * n;
                attended[head][qi] = [.. Enumerable.Range(0, n - nq + qi).Where(j => sel[row + j])];
            }
        }
        return BlockSparseKernel.Attend(q, k, v, bounds, attended);
    }
}
