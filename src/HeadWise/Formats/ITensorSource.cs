namespace HeadWise.Formats;

/// <summary>
/// A checkpoint's tensors under HeadWise's canonical (GGUF-style) names, in PyTorch shape order ([out, in] for
/// linear weights). Every format (GGUF, llama2.c, safetensors, ONNX) is read through this, so the model builder
/// has one path. Names:
///   token_embd.weight [vocab, dim]; position_embd.weight [ctx, dim]; token_types.weight [types, dim];
///   token_embd_norm.weight|bias (BERT embedding LayerNorm);
///   blk.{L}.attn_norm.weight|bias; blk.{L}.attn_q|attn_k|attn_v.weight [out, dim] (+ .bias);
///   blk.{L}.attn_q_norm.weight|attn_k_norm.weight [head_dim] (Qwen3); blk.{L}.attn_output.weight [dim, q_dim] (+ .bias);
///   blk.{L}.attn_output_norm.weight|bias (BERT post-attention LayerNorm);
///   blk.{L}.ffn_norm.weight|bias; blk.{L}.ffn_gate|ffn_up.weight [ffn, dim] (+ .bias); blk.{L}.ffn_down.weight [dim, ffn] (+ .bias);
///   blk.{L}.layer_output_norm.weight|bias (BERT post-FFN LayerNorm);
///   output_norm.weight|bias; output.weight [vocab, dim] (absent when tied).
/// </summary>
internal interface ITensorSource : IDisposable
{
    /// <summary>The file or folder the tensors come from, for error messages.</summary>
    string SourcePath { get; }
    IReadOnlyCollection<string> Names { get; }
    bool Contains(string name);
    /// <summary>Shape in PyTorch order. Throws InvalidModelFileException naming the tensor when absent.</summary>
    long[] Shape(string name);
    /// <summary>Writes the tensor as float32 into <paramref name="destination"/> (length = element count), dequantising as needed.</summary>
    void ReadFloats(string name, Span<float> destination);

    /// <summary>How the file stores the tensor, as a ggml type, where that is what llama.cpp would read (GGUF); null otherwise.</summary>
    Gguf.GgmlType? StoredType(string name) => null;

    /// <summary>For a matrix stored as Q4_1 or Q5_1: each row's block minimums m [rows * blocks per row], row-major; null otherwise.</summary>
    float[]? BlockMinimums(string name) => null;

    /// <summary>
    /// Writes the tensor as bfloat16 (round to nearest even). Sources that hold 16-bit or quantised data override this
    /// to convert in chunks; the default reads float32 first.
    /// </summary>
    void ReadBFloat16(string name, Span<ushort> destination)
    {
        var buffer = System.Buffers.ArrayPool<float>.Shared.Rent(destination.Length);
        try
        {
            var floats = buffer.AsSpan(0, destination.Length);
            ReadFloats(name, floats);
            BFloat16.FromFloats(floats, destination, SourcePath, name);
        }
        finally { System.Buffers.ArrayPool<float>.Shared.Return(buffer); }
    }
}
