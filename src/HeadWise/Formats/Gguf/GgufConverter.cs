using HeadWise.Formats.HuggingFace;
using HeadWise.Models;
using HeadWise.Tokenizers;

namespace HeadWise.Formats.Gguf;

/// <summary>
/// Hugging Face folder → GGUF with llama.cpp's architecture names, metadata keys and tensor names, so that llama.cpp
/// (and HeadWise's GGUF loader) run the result. Llama/Mistral become arch "llama" with Q/K rows permuted from HF's
/// halves RoPE layout to adjacent pairs, as llama.cpp's convert_hf_to_gguf.py does; Qwen2/Qwen3 keep the halves layout
/// (llama.cpp runs them with NeoX RoPE); GPT-2's q/k/v are fused back into attn_qkv.
/// </summary>
public static class GgufConverter
{
    public static void Convert(string hfDir, string outPath, GgmlType dtype = GgmlType.F32)
    {
        if (dtype is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16))
            throw new HeadWiseException($"--dtype {dtype} is not supported (f32, f16, bf16)");
        using var hf = HfCheckpoint.Open(hfDir);
        var spec = hf.Spec;
        var arch = spec.Architecture switch
        {
            "llama" or "mistral" => "llama",
            "qwen2" or "qwen3" or "gpt2" => spec.Architecture,
            var other => throw new HeadWiseException($"{hfDir}: converting model_type '{other}' to GGUF is not supported (llama, mistral, qwen2, qwen3, gpt2)"),
        };
        if (spec.RopeScaling is { Type: not "linear" } rs)
            throw new HeadWiseException($"{hfDir}: rope_scaling type '{rs.Type}' cannot be converted yet (only linear)");
        var tokPath = hf.TokenizerJsonPath ?? throw new HeadWiseException($"{hfDir}: no tokenizer.json in the model folder; GGUF files carry their tokenizer");
        var tok = TokenizerJson.Read(tokPath);
        if (tok.Kind == "wordpiece") throw new HeadWiseException($"{tokPath}: a WordPiece tokenizer cannot go into a decoder GGUF");
        if (tok.Tokens.Length > spec.VocabSize)
            throw new InvalidModelFileException(tokPath, $"tokenizer has {tok.Tokens.Length} tokens but the model's vocabulary is {spec.VocabSize}");

        var meta = Metadata(spec, arch, dtype);
        meta.AddRange(TokenizerMetadata(tok, spec.VocabSize, tokPath));
        GgufWriter.Write(outPath, meta, Tensors(spec, arch, hf, dtype).ToList());
    }

    private static List<KeyValuePair<string, object>> Metadata(ModelSpec s, string arch, GgmlType dtype)
    {
        var m = new List<KeyValuePair<string, object>>();
        void Add(string key, object value) => m.Add(new(key, value));
        Add("general.architecture", arch);
        Add("general.name", string.IsNullOrEmpty(s.Name) ? s.Architecture : s.Name);
        Add("general.file_type", dtype switch { GgmlType.F16 => 1u, GgmlType.BF16 => 32u, _ => 0u });  // llama_ftype
        Add($"{arch}.context_length", (uint)s.ContextLength);
        Add($"{arch}.embedding_length", (uint)s.Dim);
        Add($"{arch}.block_count", (uint)s.Layers);
        Add($"{arch}.feed_forward_length", (uint)s.FfnDim);
        Add($"{arch}.attention.head_count", (uint)s.Heads);
        Add($"{arch}.attention.head_count_kv", (uint)s.KvHeads);
        if (s.HeadDim * s.Heads != s.Dim || arch == "qwen3")
        {
            Add($"{arch}.attention.key_length", (uint)s.HeadDim);
            Add($"{arch}.attention.value_length", (uint)s.HeadDim);
        }
        if (arch == "gpt2")
            Add($"{arch}.attention.layer_norm_epsilon", (float)s.NormEps);
        else
        {
            Add($"{arch}.attention.layer_norm_rms_epsilon", (float)s.NormEps);
            Add($"{arch}.rope.dimension_count", (uint)s.HeadDim);
            Add($"{arch}.rope.freq_base", (float)s.RopeTheta);
            if (s.RopeScaling is { } rs)
            {
                Add($"{arch}.rope.scaling.type", rs.Type);
                Add($"{arch}.rope.scaling.factor", (float)rs.Factor);
            }
        }
        if (arch == "llama") Add($"{arch}.vocab_size", (uint)s.VocabSize);
        return m;
    }

    /// <summary>tokenizer.ggml.* as llama.cpp reads them; rows of a padded embedding get unused "[PADn]" tokens.</summary>
    private static List<KeyValuePair<string, object>> TokenizerMetadata(TokenizerJsonModel t, int vocab, string source)
    {
        var tokens = t.Tokens.Concat(Enumerable.Range(t.Tokens.Length, vocab - t.Tokens.Length).Select(i => $"[PAD{i}]")).ToArray();
        var types = t.Types.Concat(Enumerable.Repeat((int)TokenType.Unused, vocab - t.Tokens.Length)).ToArray();
        var m = new List<KeyValuePair<string, object>>
        {
            new("tokenizer.ggml.model", t.Kind),
            new("tokenizer.ggml.tokens", tokens),
            new("tokenizer.ggml.token_type", types),
        };
        if (t.Kind == "gpt2")
        {
            var pre = t.PreName ?? throw new InvalidModelFileException(source, "the pre-tokenizer regex is not one llama.cpp knows (gpt2, qwen2, llama-bpe)");
            m.Add(new("tokenizer.ggml.pre", pre));
            m.Add(new("tokenizer.ggml.merges", t.Merges));
        }
        else
        {
            m.Add(new("tokenizer.ggml.pre", "default"));
            m.Add(new("tokenizer.ggml.scores", t.Scores().Concat(Enumerable.Repeat(-1e9f, vocab - t.Tokens.Length)).ToArray()));
            m.Add(new("tokenizer.ggml.add_space_prefix", t.AddSpacePrefix));
        }
        if (t.BosId is int bos) m.Add(new("tokenizer.ggml.bos_token_id", (uint)bos));
        if (t.EosId is int eos) m.Add(new("tokenizer.ggml.eos_token_id", (uint)eos));
        if (t.UnkId is int unk) m.Add(new("tokenizer.ggml.unknown_token_id", (uint)unk));
        m.Add(new("tokenizer.ggml.add_bos_token", t.AddBos));
        return m;
    }

    private static IEnumerable<GgufTensorData> Tensors(ModelSpec s, string arch, ITensorSource src, GgmlType dtype)
    {
        float[] Read(string name)
        {
            var a = new float[src.Shape(name).Aggregate(1L, (x, y) => x * y)];
            src.ReadFloats(name, a);
            return a;
        }
        // ggml order is the reverse of torch's; 1-D tensors (norms, biases) stay F32 as in llama.cpp's converter.
        GgufTensorData T(string name, float[] data, long[] torchShape) =>
            new(name, torchShape.Reverse().ToArray(), torchShape.Length == 1 ? GgmlType.F32 : dtype, data);
        GgufTensorData Copy(string name) => T(name, Read(name), src.Shape(name));

        yield return Copy("token_embd.weight");
        if (src.Contains("position_embd.weight")) yield return Copy("position_embd.weight");
        for (int l = 0; l < s.Layers; l++)
        {
            string p = $"blk.{l}.";
            foreach (var n in new[] { "attn_norm.weight", "attn_norm.bias" })
                if (src.Contains(p + n)) yield return Copy(p + n);
            if (arch == "gpt2")
            {
                foreach (var suffix in new[] { ".weight", ".bias" })
                {
                    var parts = new[] { "attn_q", "attn_k", "attn_v" }.Select(n => Read(p + n + suffix)).ToArray();
                    var shape = src.Shape(p + "attn_q" + suffix);
                    shape[0] = s.QDim + 2 * s.KvDim;
                    yield return T(p + "attn_qkv" + suffix, parts.SelectMany(x => x).ToArray(), shape);
                }
            }
            else
            {
                bool permute = arch == "llama";
                foreach (var (n, heads) in new[] { ("attn_q", s.Heads), ("attn_k", s.KvHeads) })
                    foreach (var suffix in new[] { ".weight", ".bias" })
                        if (src.Contains(p + n + suffix))
                        {
                            var shape = src.Shape(p + n + suffix);
                            var data = Read(p + n + suffix);
                            yield return T(p + n + suffix, permute ? PermuteHalvesToPairs(data, heads, s.HeadDim) : data, shape);
                        }
                foreach (var n in new[] { "attn_v.weight", "attn_v.bias", "attn_q_norm.weight", "attn_k_norm.weight" })
                    if (src.Contains(p + n)) yield return Copy(p + n);
            }
            foreach (var n in new[] { "attn_output.weight", "attn_output.bias", "ffn_norm.weight", "ffn_norm.bias", "ffn_gate.weight",
                         "ffn_gate.bias", "ffn_up.weight", "ffn_up.bias", "ffn_down.weight", "ffn_down.bias" })
                if (src.Contains(p + n)) yield return Copy(p + n);
        }
        yield return Copy("output_norm.weight");
        if (src.Contains("output_norm.bias")) yield return Copy("output_norm.bias");
        if (src.Contains("output.weight")) yield return Copy("output.weight");
        else if (arch == "gpt2") yield return T("output.weight", Read("token_embd.weight"), src.Shape("token_embd.weight"));  // as llama.cpp's converter writes it
    }

    /// <summary>
    /// Within each head, row i*(d/2)+j (halves) moves to row 2j+i (adjacent pairs): llama.cpp's permute(), i.e.
    /// reshape(heads, 2, d/2, in).swapaxes(1, 2). Works for weights [heads*d, in] and biases [heads*d].
    /// </summary>
    public static float[] PermuteHalvesToPairs(float[] data, int heads, int headDim)
    {
        int rowLen = data.Length / (heads * headDim), half = headDim / 2;
        var result = new float[data.Length];
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < half; j++)
                    Array.Copy(data, (long)(h * headDim + i * half + j) * rowLen, result, (long)(h * headDim + 2 * j + i) * rowLen, rowLen);
        return result;
    }
}
