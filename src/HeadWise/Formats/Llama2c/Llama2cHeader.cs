namespace HeadWise.Formats.Llama2c;

/// <summary>
/// The seven int32 fields at the start of a llama2.c checkpoint. On disk a negative vocab_size means the
/// classifier is stored separately (wcls); here VocabSize is always positive and SharedClassifier says which.
/// </summary>
internal sealed record Llama2cHeader(int Dim, int HiddenDim, int Layers, int Heads, int KvHeads, int VocabSize, int SeqLen, bool SharedClassifier = true)
{
    public const int Bytes = 7 * sizeof(int);

    /// <summary>0 for a header with no heads (Problem() reports it; the record prints this property in that message).</summary>
    public int HeadSize => Heads > 0 ? Dim / Heads : 0;
    public int QDim => Heads * HeadSize;
    public int KvDim => KvHeads * HeadSize;

    /// <summary>Floats the file holds after the header (weights, RoPE tables, the classifier when not shared); cannot overflow.</summary>
    public Int128 FloatCount()
    {
        Int128 dim = Dim, hidden = HiddenDim, q = QDim, kv = KvDim, vocab = VocabSize;
        var perLayer = dim + q * dim + 2 * kv * dim + dim * q + dim + 3 * hidden * dim;
        return vocab * dim + Layers * perLayer + dim + 2 * (Int128)SeqLen * (HeadSize / 2) + (SharedClassifier ? 0 : vocab * dim);
    }

    /// <summary>Returns the problem with these numbers, or null when they describe a loadable model.</summary>
    public string? Problem()
    {
        if (Dim <= 0 || HiddenDim <= 0 || Layers <= 0 || Heads <= 0 || KvHeads <= 0 || VocabSize <= 0 || SeqLen <= 0)
            return $"header has a non-positive dimension ({this})";
        if (Layers > Models.ModelSpec.MaxLayers) return $"n_layers {Layers} is out of range (1..{Models.ModelSpec.MaxLayers})";
        if (Dim % Heads != 0) return $"n_heads {Heads} does not divide dim {Dim}";
        if (Heads % KvHeads != 0) return $"n_kv_heads {KvHeads} does not divide n_heads {Heads}";
        if (HeadSize % 2 != 0) return $"head size {HeadSize} is odd; RoPE needs an even head size";
        return null;
    }
}
