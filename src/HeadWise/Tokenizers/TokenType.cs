namespace HeadWise.Tokenizers;

/// <summary>Token types as GGUF tokenizer.ggml.token_type and SentencePiece's ModelProto number them.</summary>
public enum TokenType
{
    Undefined = 0,
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}
