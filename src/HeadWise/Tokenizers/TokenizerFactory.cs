namespace HeadWise.Tokenizers;

/// <summary>Builds tokenizers from the vocabularies model files carry (GGUF metadata, llama2.c tokenizer.bin).</summary>
public static class TokenizerFactory
{
    /// <summary>Pre-tokenizer regexes by GGUF tokenizer.ggml.pre name (the ones llama.cpp gives these names).</summary>
    public static IReadOnlyDictionary<string, string> PreTokenizerPatterns { get; } = new Dictionary<string, string>
    {
        ["default"] = ByteLevelBpeTokenizer.Gpt2Pattern,
        ["gpt2"] = ByteLevelBpeTokenizer.Gpt2Pattern,
        ["gpt-2"] = ByteLevelBpeTokenizer.Gpt2Pattern,  // what llama.cpp's converter writes for GPT-2
        ["llama-bpe"] = Llama3Pattern,
        ["llama3"] = Llama3Pattern,
        ["qwen2"] = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
    };

    private const string Llama3Pattern =
        @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>
    /// llama2.c's tokenizer.bin vocabulary (pieces and scores as <see cref="Formats.Llama2c.Llama2cVocabulary"/> reads them):
    /// SentencePiece BPE with BOS 1, EOS 2, UNK 0. llama2.c's exporter wrote ' ' for '▁' and "\n&lt;s&gt;\n" for BOS;
    /// both are put back.
    /// </summary>
    public static SentencePieceBpeTokenizer FromLlama2c(string[] pieces, float[] scores, string source = "(llama2.c tokenizer)")
    {
        VocabularyChecks.NotEmpty(source, pieces, "the piece list");
        if (pieces.Length < 3) throw new InvalidModelFileException(source, $"a llama2.c vocabulary needs <unk>, <s>, </s> at ids 0..2; it has {pieces.Length} pieces");
        var restored = new string[pieces.Length];
        for (int i = 0; i < pieces.Length; i++)
            restored[i] = i is 1 or 2 ? pieces[i].Trim('\n') : pieces[i].Replace(' ', '\u2581');
        return new SentencePieceBpeTokenizer(restored, scores, tokenTypes: null, bosId: 1, eosId: 2, unkId: 0,
            addBos: true, addSpacePrefix: true, source: source);
    }

    /// <summary>Reads a llama2.c tokenizer.bin file and builds its tokenizer.</summary>
    public static SentencePieceBpeTokenizer FromLlama2cFile(string path)
    {
        var vocabulary = Formats.Llama2c.Llama2cVocabulary.Read(path);
        return FromLlama2c(vocabulary.Pieces, vocabulary.Scores, path);
    }

    /// <summary>
    /// The tokenizer a GGUF file describes. <paramref name="metadata"/> holds its key/value pairs as the GGUF reader
    /// returns them: arrays as typed arrays (string[], float[], int[]...), scalars as uint/int/bool/string.
    /// </summary>
    public static ITokenizer FromGgufMetadata(IReadOnlyDictionary<string, object> metadata, string sourcePath)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        var m = new GgufTokenizerMetadata(metadata, sourcePath);
        var model = m.String("tokenizer.ggml.model") ?? throw new InvalidModelFileException(sourcePath, "tokenizer.ggml.model is missing: the file has no tokenizer");
        var tokens = m.Strings("tokenizer.ggml.tokens") ?? throw new InvalidModelFileException(sourcePath, "tokenizer.ggml.tokens is missing");
        var types = m.Ints("tokenizer.ggml.token_type");
        int? bos = m.Int("tokenizer.ggml.bos_token_id"), eos = m.Int("tokenizer.ggml.eos_token_id");
        switch (model)
        {
            case "llama":
                // llama.cpp: scores default to 0, add_bos to true, add_space_prefix to true for SentencePiece vocabularies.
                var scores = m.Floats("tokenizer.ggml.scores") ?? new float[tokens.Length];
                return new SentencePieceBpeTokenizer(tokens, scores, types, bos, eos, m.Int("tokenizer.ggml.unknown_token_id"),
                    m.Bool("tokenizer.ggml.add_bos_token") ?? true, m.Bool("tokenizer.ggml.add_space_prefix") ?? true, sourcePath);
            case "gpt2":
                var merges = m.Strings("tokenizer.ggml.merges") ?? throw new InvalidModelFileException(sourcePath, "tokenizer.ggml.merges is missing (needed by a gpt2 vocabulary)");
                var pre = m.String("tokenizer.ggml.pre") ?? "default";
                if (!PreTokenizerPatterns.TryGetValue(pre, out var pattern))
                    throw new InvalidModelFileException(sourcePath,
                        $"tokenizer.ggml.pre = \"{pre}\" is not a supported pre-tokenizer (supported: {string.Join(", ", PreTokenizerPatterns.Keys)})");
                return new ByteLevelBpeTokenizer(tokens, merges, types, bos, eos, m.Bool("tokenizer.ggml.add_bos_token") ?? false, pattern, sourcePath);
            default:
                throw new InvalidModelFileException(sourcePath, $"tokenizer.ggml.model = {ErrorText.Quote(model)} is not supported (supported: llama, gpt2)");
        }
    }
}
