namespace HeadWise.Tokenizers;

/// <summary>
/// One interface over every vocabulary HeadWise reads: GGUF metadata (llama SentencePiece-style, gpt2 byte-level BPE),
/// llama2.c tokenizer.bin, Hugging Face tokenizer.json (BPE, SentencePiece-BPE, WordPiece).
/// </summary>
public interface ITokenizer
{
    /// <summary>What kind of vocabulary: "llama" (SentencePiece BPE, byte fallback), "gpt2" (byte-level BPE), "wordpiece".</summary>
    string Kind { get; }
    int VocabSize { get; }
    int? BosId { get; }
    int? EosId { get; }
    /// <summary>Whether Encode adds BOS by default for this model (GGUF tokenizer.ggml.add_bos_token and the like).</summary>
    bool AddBosByDefault { get; }

    /// <summary>Encodes text; prepends BOS when <paramref name="addBos"/> is true and the vocabulary has one.</summary>
    IReadOnlyList<int> Encode(string text, bool addBos);

    /// <summary>Decodes ids to text (special tokens dropped).</summary>
    string Decode(IEnumerable<int> ids);

    /// <summary>A short printable label for one token (plots, tables).</summary>
    string TokenLabel(int id);
}
