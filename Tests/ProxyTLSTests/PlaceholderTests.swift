import XCTest
@testable import ProxyTLS
final class ProxyTLSPlaceholderTests: XCTestCase { func testModuleLinks() { XCTAssertNotNil(ProxyTLSModule.self) } }
