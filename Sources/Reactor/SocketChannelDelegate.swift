/// Receives a channel's events, on the channel's queue.
public protocol SocketChannelDelegate: AnyObject {
    /// Bytes read (plaintext with TLS). Valid only during the call: they live in a read buffer
    /// the channel reuses (the loop's, shared by its channels). Pausing reading or closing the
    /// channel here stops the read loop before its next read.
    func channelRead(_ channel: SocketChannel, _ bytes: UnsafeRawBufferPointer)
    /// The peer closed its side: end of stream. Delivered once; reading is off afterwards.
    func channelEOF(_ channel: SocketChannel)
    /// A non-blocking connect finished (TCP). With TLS the handshake starts now.
    func channelConnected(_ channel: SocketChannel)
    /// The TLS handshake finished (client or server side): the channel is ready for application bytes.
    func channelHandshakeCompleted(_ channel: SocketChannel)
    /// Queued output has all been written (after `send` returned false or queued bytes).
    func channelDrained(_ channel: SocketChannel)
    /// The channel cannot go on; the delegate closes it.
    func channelFailed(_ channel: SocketChannel, _ error: ChannelError)
}

extension SocketChannelDelegate {
    public func channelConnected(_ channel: SocketChannel) {}
    public func channelHandshakeCompleted(_ channel: SocketChannel) {}
    public func channelDrained(_ channel: SocketChannel) {}
}
