namespace HeadWise.Formats.Llama2c;

/// <summary>
/// The seven int32 fields at the start of a llama2.c checkpoint. On disk a negative vocab_size means the
/// classifier is stored separately (wcls); here VocabSize is always positive and SharedClassifier says which.
/// </summary>
public sealed record Llama2cHeader(int Dim, int HiddenDim, int Layers, int Heads, int KvHeads, int VocabSize, int SeqLen, bool SharedClassifier = true)
{
    public const int Bytes = 7 * sizeof(int);

    public int HeadSize => Dim / Heads;
    public int QDim => Heads * HeadSize;
    public int KvDim => KvHeads * HeadSize;

    /// <summary>Returns the problem with these numbers, or null when they describe a loadable model.</summary>
    public string? Problem()
    {
        if (Dim <= 0 || HiddenDim <= 0 || Layers <= 0 || Heads <= 0 || KvHeads <= 0 || VocabSize <= 0 || SeqLen <= 0)
            return $"header has a non-positive dimension ({this})";
        if (Dim % Heads != 0) return $"n_heads {Heads} does not divide dim {Dim}";
        if (Heads % KvHeads != 0) return $"n_kv_heads {KvHeads} does not divide n_heads {Heads}";
        if (HeadSize % 2 != 0) return $"head size {HeadSize} is odd; RoPE needs an even head size";
        return null;
    }
}
